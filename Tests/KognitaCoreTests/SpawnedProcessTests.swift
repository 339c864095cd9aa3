import Testing
import KognitaSystem
#if canImport(Glibc)
import Glibc
#endif

@Suite("Spawned processes")
struct SpawnedProcessTests {
    @Test("a small child of a large process reports its own peak memory, not its parent's (which ru_maxrss carries over)")
    func peakIsTheChildsOwn() throws {
        // Make this process large: 128 MiB, every page touched.
        let size = 128 << 20
        let big = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        defer { big.deallocate() }
        for offset in stride(from: 0, to: size, by: 4096) { big.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self) }
        let child = try SpawnedProcess("/bin/sleep", ["0.3"])
        while child.isRunning { usleep(10_000) }
        #expect(child.exitCode == 0)
        let peak = child.peakResidentBytes
        #expect(peak > 0)
        #expect(peak < 32 << 20, "a sleep reported a peak of \(peak >> 20) MiB")
    }
}

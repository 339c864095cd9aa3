import Testing
import KognitaSystem
import KognitaTesting
#if canImport(Glibc)
import Glibc
#endif

/// Tests and the devnet start servers on ports `FreePort` picked. A port from
/// the kernel's ephemeral range can be taken by any outgoing connection before
/// the server binds it (a CI run lost a broker that way), and parallel tests
/// must not be handed the same port.
@Suite("Free ports for tests and the devnet")
struct FreePortTests {
    @Test("ports are outside the kernel's ephemeral range, never handed out twice, and bindable")
    func portsAreOutsideTheEphemeralRangeAndDistinct() throws {
        let ephemeral = try #require(FreePort.ephemeralRange(), "cannot read /proc/sys/net/ipv4/ip_local_port_range")
        var seen = Set<Int>()
        for _ in 0..<300 {
            let port = try FreePort.find()
            #expect(!ephemeral.contains(port), "port \(port) is in the ephemeral range \(ephemeral)")
            #expect(seen.insert(port).inserted, "port \(port) was handed out twice")
        }
        let base = try FreePort.findRange(8)
        for port in (base + 1)...(base + 8) {
            #expect(!ephemeral.contains(port))
            #expect(seen.insert(port).inserted, "port \(port) of a range was handed out before")
            #expect(FreePort.isFree(port))
        }
    }

    @Test("a port something listens on is not free")
    func aListenedPortIsNotFree() throws {
        let port = try FreePort.find()
        let fd = try listeningSocket(port)
        defer { close(fd) }
        #expect(!FreePort.isFree(port))
        #expect(FreePort.accepts(port))
    }
}

@Suite("Test brokers on free ports")
struct TestBrokerPortTests {
    @Test("a test broker whose port was taken before it started moves to another port and runs there")
    func brokerMovesOffATakenPort() async throws {
        let taken = try FreePort.find()
        let fd = try listeningSocket(taken)
        defer { close(fd) }
        try await MosquittoBroker.with(firstPort: taken) { broker in
            #expect(broker.port != taken)
            #expect(FreePort.accepts(broker.port))
        }
    }
}

/// A socket listening on 127.0.0.1:`port`; the caller closes it.
private func listeningSocket(_ port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    guard fd >= 0, bound, listen(fd, 1) == 0 else {
        if fd >= 0 { close(fd) }
        throw TestSupportError("cannot listen on 127.0.0.1:\(port): errno \(errno)")
    }
    return fd
}

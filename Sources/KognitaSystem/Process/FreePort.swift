#if canImport(Glibc)
import Glibc
#endif

/// Free TCP ports on 127.0.0.1, for tests and the devnet.
///
/// A port found free is released before the server that is to listen on it
/// starts, so something else may take it in between. Two things make that
/// unlikely enough to rely on:
/// - ports are picked outside the kernel's ephemeral range
///   (`/proc/sys/net/ipv4/ip_local_port_range`), from which every outgoing
///   connection on the machine takes its local port. Picking with bind(port 0)
///   hands out a port from that very range, and a busy test run (nodes
///   connecting to each other, clients to brokers) took one in the gap: a
///   broker then failed with "Address already in use";
/// - one process never hands out the same port twice, so tests running in
///   parallel do not pick each other's ports.
///
/// Servers started on such a port should still retry on another one when
/// the bind fails (another process may pick the same port at random).
public enum FreePort {
    /// Ports handed out by this process.
    private static let handedOut = Protected(Set<Int>())

    /// The ports to pick from: the larger side of the ephemeral range within
    /// 10000...65535.
    public static let candidates: ClosedRange<Int> = {
        let ephemeral = ephemeralRange() ?? 32_768...60_999
        let below = 10_000...max(10_000, ephemeral.lowerBound - 1)
        let above = min(65_535, ephemeral.upperBound + 1)...65_535
        return below.count >= above.count ? below : above
    }()

    /// The kernel's ephemeral port range (local ports of outgoing
    /// connections), or nil when it cannot be read.
    public static func ephemeralRange() -> ClosedRange<Int>? {
        guard let bytes = try? FileIO.readSpecial("/proc/sys/net/ipv4/ip_local_port_range", maxBytes: 64) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        guard fields.count == 2, fields[0] <= fields[1] else { return nil }
        return fields[0]...fields[1]
    }

    /// A base port B such that B+1 ... B+`count` were all free a moment ago
    /// (for tools that number their ports from a base, like `kognita genesis new`).
    public static func findRange(_ count: Int) throws -> Int {
        precondition(count >= 1 && count < candidates.count / 4)
        for _ in 0..<500 {
            let base = Int.random(in: (candidates.lowerBound - 1)...(candidates.upperBound - count))
            let ports = (base + 1)...(base + count)
            let claimed = handedOut.withLock { taken -> Bool in
                guard ports.allSatisfy({ !taken.contains($0) }) else { return false }
                taken.formUnion(ports)
                return true
            }
            guard claimed else { continue }
            if ports.allSatisfy({ isFree($0) }) { return base }
        }
        throw ProcessError("cannot find \(count) consecutive free TCP ports on 127.0.0.1 in \(candidates)")
    }

    /// A port that was free a moment ago and that this process has not
    /// handed out before.
    public static func find() throws -> Int {
        try findRange(1) + 1
    }

    /// Whether 127.0.0.1:`port` can be bound now.
    public static func isFree(_ port: Int) -> Bool {
        guard let fd = loopbackSocket(port, bind) else { return false }
        close(fd)
        return true
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func accepts(_ port: Int) -> Bool {
        guard let fd = connect(port) else { return false }
        close(fd)
        return true
    }

    /// A TCP socket connected to 127.0.0.1:`port`, or nil; the caller closes it.
    public static func connect(_ port: Int) -> Int32? { loopbackSocket(port, Glibc.connect) }

    /// A new TCP socket on which `operation` (bind or connect) to 127.0.0.1:`port` succeeded, or nil.
    private static func loopbackSocket(_ port: Int, _ operation: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let succeeded = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { operation(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard succeeded else {
            close(fd)
            return nil
        }
        return fd
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Free TCP ports on 127.0.0.1.
public enum FreePort {
    /// A base port B such that B+1 ... B+`count` were all free a moment ago
    /// (for tools that number their ports from a base, like `kognita genesis new`).
    public static func findRange(_ count: Int) throws -> Int {
        for _ in 0..<200 {
            let base = Int.random(in: 20_000...(60_000 - count))
            if (1...count).allSatisfy({ isFree(base + $0) }) { return base }
        }
        throw ProcessError("cannot find \(count) consecutive free ports")
    }

    /// Whether 127.0.0.1:`port` can be bound now.
    public static func isFree(_ port: Int) -> Bool {
        guard let fd = loopbackSocket(port, bind) else { return false }
        close(fd)
        return true
    }

    /// A port that was free a moment ago (bound to port 0, then released).
    public static func find() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProcessError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw ProcessError("cannot bind a free port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
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

import KognitaSystem
#if canImport(Glibc)
import Glibc
#endif

/// One line per event on standard error (systemd's journal keeps them).
public enum AgentLog {
    public static func info(_ message: String) { write("info", message) }
    public static func warning(_ message: String) { write("warning", message) }
    public static func error(_ message: String) { write("error", message) }

    /// Where lines go: standard error, unless a host of many agents (the
    /// devnet) sends them to a file. Set it before any agent starts.
    nonisolated(unsafe) public static var destination: Int32 = STDERR_FILENO

    fileprivate static func write(_ level: String, _ message: String) {
        let line = Array("kognita-agent \(level): \(message)\n".utf8)
        _ = line.withUnsafeBytes { Glibc.write(destination, $0.baseAddress, $0.count) }
    }

    /// The same lines, each starting with a prefix (the device, when one
    /// process runs many agents).
    public struct Prefixed: Sendable {
        let prefix: String
        public init(_ prefix: String) { self.prefix = prefix }
        public func info(_ message: String) { AgentLog.write("info", prefix + message) }
        public func warning(_ message: String) { AgentLog.write("warning", prefix + message) }
        public func error(_ message: String) { AgentLog.write("error", prefix + message) }
    }
}

/// Wall-clock milliseconds since the Unix epoch.
public func currentMilliseconds() -> UInt64 { WallClock.unixMillis() }

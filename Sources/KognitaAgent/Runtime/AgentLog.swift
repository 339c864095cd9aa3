import KognitaSystem
#if canImport(Glibc)
import Glibc
#endif

/// One line per event on standard error (systemd's journal keeps them).
public enum AgentLog {
    public static func info(_ message: String) { write("info", message) }
    public static func warning(_ message: String) { write("warning", message) }
    public static func error(_ message: String) { write("error", message) }

    private static func write(_ level: String, _ message: String) {
        let line = Array("kognita-agent \(level): \(message)\n".utf8)
        _ = line.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

/// Wall-clock milliseconds since the Unix epoch.
public func currentMilliseconds() -> UInt64 { WallClock.unixMillis() }

import Logging

/// Logging for the long-running programs (node, bridge): one line per event
/// on standard error, at the configured level (systemd's journal keeps them).
public enum ServiceLogging {
    /// Sets up swift-log once, at `level` (`trace` ... `critical`; unknown: info), and returns the program's logger.
    public static func bootstrap(label: String, level: String) -> Logger {
        let parsed = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = parsed
            return handler
        }
        return Logger(label: label)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real mosquitto broker for tests: its own temporary directory, a free port
/// on 127.0.0.1, stopped (SIGTERM, then SIGKILL) when the test scope ends,
/// whatever happens. It can be stopped and started again on the same port to
/// test reconnection.
public final class MosquittoBroker: @unchecked Sendable {
    /// The port it listens on (127.0.0.1).
    public let port: Int
    /// Its working directory (config, persistence, log).
    public let directory: String
    private var process: SpawnedProcess?
    private let extraConfig: String

    /// Runs `body` with a started broker and stops it afterwards.
    public static func with<R>(config extra: String = "", _ body: (MosquittoBroker) async throws -> R) async throws -> R {
        try await TemporaryDirectory.with { dir in
            let broker = try MosquittoBroker(directory: dir, extraConfig: extra)
            defer { broker.stop() }
            try await broker.start()
            return try await body(broker)
        }
    }

    /// A broker that is configured but not started (for start-order tests);
    /// the caller stops it.
    public static func create(in directory: String, config extra: String = "") throws -> MosquittoBroker {
        try MosquittoBroker(directory: directory, extraConfig: extra)
    }

    init(directory: String, extraConfig: String) throws {
        self.directory = directory
        self.extraConfig = extraConfig
        self.port = try FreePort.find()
    }

    /// The mosquitto executable (Debian installs it in /usr/sbin).
    public static func executable() throws -> String {
        for candidate in ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"]
        where FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        throw TestSupportError("mosquitto is not installed: run 'make setup'")
    }

    /// Starts the broker and waits until it accepts connections.
    public func start() async throws {
        // Run as root, mosquitto drops to the 'mosquitto' user and then cannot
        // write its log or persistence in our private temporary directory.
        let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "root"
        let config = """
            user \(user)
            listener \(port) 127.0.0.1
            allow_anonymous true
            persistence true
            persistence_location \(directory)/
            autosave_interval 1
            log_dest file \(directory)/mosquitto.log
            log_type all
            max_queued_messages 100000
            \(extraConfig)

            """
        try config.write(toFile: "\(directory)/mosquitto.conf", atomically: true, encoding: .utf8)
        let process = try SpawnedProcess(try Self.executable(), ["-c", "\(directory)/mosquitto.conf"],
                                         logFile: "\(directory)/mosquitto.out")
        self.process = process
        for _ in 0..<100 {
            if FreePort.accepts(port) { return }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let log = (try? String(contentsOfFile: "\(directory)/mosquitto.log", encoding: .utf8)) ?? ""
        stop()
        throw TestSupportError("mosquitto did not start on port \(port): \(log.suffix(500))")
    }

    /// Stops the broker: SIGTERM, and SIGKILL if it has not exited after 5 s.
    public func stop() {
        process?.stop(signal: SIGTERM, timeout: 5)
        process = nil
    }

    /// Kills the broker with SIGKILL: it saves nothing.
    public func kill9() {
        process?.stop(signal: SIGKILL, timeout: 5)
        process = nil
    }

    deinit { stop() }
}


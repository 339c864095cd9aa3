import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real mosquitto broker for tests: its own temporary directory, a free port
/// on 127.0.0.1, stopped (SIGTERM, then SIGKILL) when the test scope ends,
/// whatever happens. It can be stopped and started again on the same port to
/// test reconnection.
public final class MosquittoBroker: @unchecked Sendable {
    /// The port it listens on (127.0.0.1). Fixed once the broker has started,
    /// or from the outset for a broker made with `create`.
    public private(set) var port: Int
    /// Whether a first start may move to another port when this one was
    /// taken: only while nobody has been told the port.
    private var mayMovePort: Bool
    /// Its working directory (config, persistence, log).
    public let directory: String
    private var process: SpawnedProcess?
    private let extraConfig: String

    /// Runs `body` with a started broker and stops it afterwards. It tries
    /// `firstPort` first when given (to test the move off a taken port).
    public static func with<R>(config extra: String = "", firstPort: Int? = nil, _ body: (MosquittoBroker) async throws -> R) async throws -> R {
        try await TemporaryDirectory.with { dir in
            let broker = try MosquittoBroker(directory: dir, extraConfig: extra, mayMovePort: true)
            if let firstPort { broker.port = firstPort }
            defer { broker.stop() }
            try await broker.start()
            return try await body(broker)
        }
    }

    /// A broker that is configured but not started (for start-order tests);
    /// the caller stops it.
    public static func create(in directory: String, config extra: String = "") throws -> MosquittoBroker {
        try MosquittoBroker(directory: directory, extraConfig: extra, mayMovePort: false)
    }

    init(directory: String, extraConfig: String, mayMovePort: Bool) throws {
        self.directory = directory
        self.extraConfig = extraConfig
        self.mayMovePort = mayMovePort
        self.port = try FreePort.find()
    }

    /// The mosquitto executable (Debian installs it in /usr/sbin).
    public static func executable() throws -> String {
        for candidate in ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"]
        where FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        throw TestSupportError("mosquitto is not installed: run 'make setup'")
    }

    /// Starts the broker and waits until it accepts connections.
    ///
    /// A free port can be taken by someone else between the time it was found
    /// and the time mosquitto binds it. Then a first start of a broker from
    /// `with` moves to another port; any other start tries the same port again
    /// for a few seconds.
    public func start() async throws {
        var attempt = 1
        while true {
            let logStart = Self.fileSize("\(directory)/mosquitto.log"), outStart = Self.fileSize("\(directory)/mosquitto.out")
            if try await launch(logStart: logStart) {
                mayMovePort = false
                return
            }
            let log = Self.text("\(directory)/mosquitto.log", from: logStart) + Self.text("\(directory)/mosquitto.out", from: outStart)
            guard log.contains("Address already in use"), attempt < 5 else {
                throw TestSupportError("mosquitto did not start on port \(port) (attempt \(attempt)): \(log.suffix(500))")
            }
            attempt += 1
            if mayMovePort {
                port = try FreePort.find()
            } else {
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Runs mosquitto on `port`; true once it says it runs and the port
    /// accepts connections (a port that accepts is not enough: someone else
    /// may be listening on it), false (and stopped) when it exits or does not
    /// run within 5 s.
    private func launch(logStart: UInt64) async throws -> Bool {
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
        try config.write(toFile: "\(directory)/mosquitto.conf")
        let process = try SpawnedProcess(try Self.executable(), ["-c", "\(directory)/mosquitto.conf"],
                                         logFile: "\(directory)/mosquitto.out")
        self.process = process
        for _ in 0..<100 {
            if Self.text("\(directory)/mosquitto.log", from: logStart).contains(" running"),
               process.isRunning, FreePort.accepts(port) { return true }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        stop()
        return false
    }

    private static func fileSize(_ path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }

    private static func text(_ path: String, from offset: UInt64) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
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


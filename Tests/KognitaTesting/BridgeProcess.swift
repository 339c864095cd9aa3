import Foundation
import KognitaNode

/// A real `kognita-bridge` process for tests, with its own directory and
/// metrics port; stopped when released.
public final class BridgeProcess: @unchecked Sendable {
    public let directory: String
    public let metricsPort: Int
    private var process: SpawnedProcess?
    private let configFile: String

    /// Writes a bridge.toml for the network of `genesisPath` and the broker on
    /// `brokerPort`, and starts the bridge. `extra` is appended to [broker].
    public init(directory: String, genesisPath: String, brokerPort: Int, group: String = "kognita-bridges",
                brokerSettings extra: String = "", bridgeSettings: String = "") throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        metricsPort = try FreePort.find()
        configFile = "\(directory)/bridge.toml"
        try """
            [bridge]
            genesis = "\(genesisPath)"
            share_group = "\(group)"
            \(bridgeSettings)
            [broker]
            port = \(brokerPort)
            \(extra)
            [metrics]
            listen = "127.0.0.1:\(metricsPort)"
            """.write(toFile: configFile)
        try start()
    }

    /// Starts it (again).
    public func start() throws {
        process = try SpawnedProcess(try Repository.builtProduct("kognita-bridge"), ["run", "-c", configFile], logFile: "\(directory)/bridge.log",
                                       environment: ParentWatch.childEnvironment(ProcessInfo.processInfo.environment))
    }

    /// Stops it; returns its exit code (nil when a signal ended it).
    @discardableResult
    public func stop(signal: Int32 = SIGTERM) -> Int32? {
        guard let process else { return nil }
        process.stop(signal: signal, timeout: 10)
        self.process = nil
        return process.exitCode
    }

    public var isRunning: Bool { process?.isRunning ?? false }
    public func log() -> String { (try? String(contentsOfFile: "\(directory)/bridge.log", encoding: .utf8)) ?? "" }

    /// The value of a metric line (`name` with labels, exactly as exposed), or nil.
    public func metric(_ name: String) async -> Double? {
        guard let client = try? NodeHTTPClient(url: "http://127.0.0.1:\(metricsPort)"),
              let response = try? await client.request(.GET, "/metrics", timeout: .seconds(5)) else { return nil }
        for line in response.text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    /// Waits until the bridge has a healthy connection to `nodes` nodes.
    public func waitUntilConnected(nodes: Int, within seconds: Double = 20) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard isRunning else { throw TestSupportError("the bridge exited:\n\(log().suffix(2000))") }
            if let connected = await metric("kognita_bridge_nodes_connected_count"), connected >= Double(nodes),
               log().contains("broker: connected") { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSupportError("the bridge did not connect to \(nodes) nodes and the broker within \(seconds) s:\n\(log().suffix(2000))")
    }

    deinit { stop(signal: SIGKILL) }
}

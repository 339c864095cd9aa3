import Foundation

/// Runs the real kognita-agent with a file sensor whose counter the test drives.
public struct AgentHarness {
    public let directory: String
    public let port: Int
    public let counterFile: String
    public let configFile: String
    public let recipient: String
    public static let recipient = String(repeating: "3d", count: 32)

    /// An agent in `directory` talking to the broker on `port`, paying
    /// `price` per unit of its counter to `recipient` on `network`.
    public init(directory: String, port: Int, network: String = "kognita-devnet", recipient: String = AgentHarness.recipient, price: Int = 1) throws {
        self.directory = directory
        self.port = port
        self.recipient = recipient
        counterFile = "\(directory)/counter"
        configFile = "\(directory)/agent.toml"
        try "0\n".write(toFile: counterFile)
        try """
            [agent]
            network = "\(network)"
            key = "file:\(directory)/state/device.key"
            state_directory = "\(directory)/state"
            [broker]
            port = \(port)
            [batch]
            max_transfers = 64
            max_delay_ms = 300
            [uplink]
            resend_ms = 700
            max_resend_ms = 2000
            [[sensor]]
            id = "meter"
            kind = "file"
            path = "\(counterFile)"
            poll_ms = 50
            [[rule]]
            id = "pay"
            sensor = "meter"
            recipient = "\(recipient)"
            every = 1
            price = \(price)
            hourly_cap = 100000000
            """.write(toFile: configFile)
    }

    /// Appends settings to the [uplink] section.
    public func setUplink(_ lines: String) throws {
        let text = try String(contentsOfFile: configFile, encoding: .utf8)
        try text.replacingOccurrences(of: "[uplink]\n", with: "[uplink]\n\(lines)\n").write(toFile: configFile)
    }

    public func start() throws -> SpawnedProcess {
        try SpawnedProcess(try Repository.builtProduct("kognita-agent"), ["run", "-c", configFile], logFile: "\(directory)/agent.log")
    }

    /// Sets the counter (whole units), atomically as a meter driver would.
    public func setCounter(_ units: Int) throws {
        try "\(units)\n".write(toFile: counterFile)
    }

    public func status() -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: "\(directory)/state/status.json") else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    public func log() -> String { (try? String(contentsOfFile: "\(directory)/agent.log", encoding: .utf8)) ?? "" }

    /// Waits until the agent runs and has taken its baseline reading (nothing
    /// before the first reading is paid, so the test must not consume earlier).
    public func waitUntilRunning() async throws {
        guard await eventually(within: 10, { status() != nil }) else {
            throw TestSupportError("the agent never wrote its status:\n\(log())")
        }
        try await Task.sleep(for: .milliseconds(500))
    }

    /// Runs the agent with no bridge until `units` of consumption sit in at
    /// least `batches` spooled batches, then kills it with SIGKILL.
    public func spoolWithoutBridge(units: Int, batches: Int) async throws {
        let agent = try start()
        defer { agent.stop(signal: SIGKILL) }
        try await waitUntilRunning()
        for unit in 1...units { try setCounter(unit); try await Task.sleep(for: .milliseconds(10)) }
        guard await eventually(within: 10, { (status()?["pending_batches"] as? Int ?? 0) >= batches }) else {
            throw TestSupportError("the agent did not spool \(batches) batches:\n\(log())")
        }
    }
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass.
public func eventually(within seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return condition()
}


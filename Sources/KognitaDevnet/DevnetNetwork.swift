import Foundation
import KognitaCore
import KognitaLedger
import KognitaNode
import KognitaSystem

/// The devnet's processes and files: a fresh network made in one directory
/// the way an operator makes one (`kognita genesis new`, the project's broker
/// config through Scripts/local-broker.sh, bridge.toml files), started on free
/// ports, every process tracked so that all are stopped whatever happens.
public final class DevnetNetwork: Sendable {
    /// The programs a network runs.
    public struct Tools: Sendable {
        let node: String
        let bridge: String
        let agent: String
        let mosquitto: String
        let mosquittoPasswd: String
        /// Scripts/local-broker.sh of this source tree (it reads Config/mosquitto.conf and .acl).
        let brokerScript: String

        public init(node: String, bridge: String, agent: String, mosquitto: String, mosquittoPasswd: String, brokerScript: String) {
            self.node = node
            self.bridge = bridge
            self.agent = agent
            self.mosquitto = mosquitto
            self.mosquittoPasswd = mosquittoPasswd
            self.brokerScript = brokerScript
        }
    }

    public let directory: String
    let tools: Tools
    public let network: NetworkID
    /// Readable names (validator-N, candidate-N, bridge-N) of node and bridge ids (hex).
    public func names() -> [String: String] {
        var names: [String: String] = [:]
        for (index, validator) in genesis.validators.enumerated() { names[validator.id.hex] = "validator-\(index + 1)" }
        for index in candidates.indices {
            if let key = try? KeyFile.load("\(candidateHome(index))/identity.key") { names[key.publicKey.hex] = "candidate-\(index + 1)" }
        }
        for (index, account) in bridgeAccounts.enumerated() { names[account.hex] = "bridge-\(index + 1)" }
        return names
    }

    /// Each bridge's account (its identity key): devices name one in their
    /// batches, and it is paid its share of their fees.
    public let bridgeAccounts: [AccountID]
    /// The validator nodes; validator-1 (index 0) serves the faucet.
    public let validators: [Component]
    /// Extra nodes that start as full nodes and join the committee when
    /// their account bonds and registers them (`--candidates`).
    public let candidates: [Component]
    let candidatePeerPorts: [Int]
    let candidateAPIPorts: [Int]
    public let bridges: [Component]
    /// mosquitto; its files exist only in a network with bridges or devices.
    public let broker: Component
    /// Validator N (1-based) listens for peers on this port + N.
    public let peerBasePort: Int
    /// Validator N (1-based) serves its HTTP API on this port + N.
    public let apiBasePort: Int
    let brokerPort: Int
    let bridgeMetricsPorts: [Int]
    public let genesis: Genesis

    var netDirectory: String { "\(directory)/net" }
    public var genesisPath: String { "\(netDirectory)/genesis.toml" }
    public var faucetKeyPath: String { "\(netDirectory)/faucet.key" }
    public func nodeURL(_ index: Int) -> String { "http://127.0.0.1:\(apiBasePort + index + 1)" }
    public func nodeHome(_ index: Int) -> String { "\(netDirectory)/validator-\(index + 1)" }
    var allComponents: [Component] { validators + candidates + bridges + [broker] }
    public func candidateHome(_ index: Int) -> String { "\(netDirectory)/candidate-\(index + 1)" }
    public func candidateURL(_ index: Int) -> String { "http://127.0.0.1:\(candidateAPIPorts[index])" }
    /// Where peers reach candidate `index`.
    public func candidatePeerAddress(_ index: Int) -> String { "127.0.0.1:\(candidatePeerPorts[index])" }
    /// Every node's API: the validators', then the candidates'.
    public var allNodeURLs: [String] { validators.indices.map(nodeURL) + candidates.indices.map(candidateURL) }

    /// Makes the network's files in `directory` and registers `devices`
    /// (id and broker password each) with the broker. Starts nothing. A
    /// network of nodes alone (no bridges, no devices) needs no broker and
    /// gets none of its files.
    public init(directory: String, tools: Tools, network: NetworkID = try! NetworkID("kognita-devnet"), validators count: Int,
                bridges bridgeCount: Int, devices: [(id: AccountID, password: String)], rules: EpochRules = EpochRules(),
                candidates candidateCount: Int = 0, dropVotes: [Int: UInt64] = [:], minimumFee: UInt64 = 0) throws {
        self.directory = directory
        self.tools = tools
        self.network = network
        // FreePort never hands out a port twice in one process, so these do not overlap.
        let peerBase = try FreePort.findRange(count)
        peerBasePort = peerBase
        apiBasePort = try FreePort.findRange(count)
        brokerPort = try FreePort.find()
        let tlsPort = try FreePort.find()
        bridgeMetricsPorts = try (0..<bridgeCount).map { _ in try FreePort.find() }
        candidatePeerPorts = try (0..<candidateCount).map { _ in try FreePort.find() }
        candidateAPIPorts = try (0..<candidateCount).map { _ in try FreePort.find() }

        // The network: genesis, validator keys and node configs, the faucet key.
        do throws(NetworkFilesError) {
            var plan = LocalNetworkFiles.Plan(network: network, validators: count, directory: "\(directory)/net",
                                              basePort: peerBase, apiBasePort: apiBasePort, rules: rules)
            plan.minimumFee = minimumFee
            genesis = try LocalNetworkFiles.make(plan).genesis
        } catch { throw DevnetError(error.description) }
        // Test faults (--faulty): appended to those validators' configs.
        for (index, permille) in dropVotes.sorted(by: { $0.key < $1.key }) where permille > 0 {
            let path = "\(directory)/net/validator-\(index + 1)/node.toml"
            let config = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            try Self.write(config + "\n# A test fault (kognita devnet --faulty): never in production.\n[faults]\ndrop_votes_permille = \(permille)\n",
                           to: path, mode: 0o644)
        }

        // The broker: the project's config, with the bridge and every device in its password file.
        let brokerDirectory = "\(directory)/broker"
        if bridgeCount > 0 || !devices.isEmpty {
            try FileManager.default.createDirectory(atPath: brokerDirectory, withIntermediateDirectories: true)
            let bridgePassword = Hex.encode(Sodium.randomBytes(16))
            try Self.write(bridgePassword, to: "\(brokerDirectory)/bridge-password")
            var passwords = "kognita-bridge:\(bridgePassword)\n"
            for device in devices { passwords += "\(device.id.hex):\(device.password)\n" }
            try Self.write(passwords, to: "\(brokerDirectory)/mosquitto.passwd")
            try runTool(tools.mosquittoPasswd, ["-U", "\(brokerDirectory)/mosquitto.passwd"], hint: "install mosquitto (make setup)")
            try runTool("bash", [tools.brokerScript, brokerDirectory, "\(brokerPort)", "\(tlsPort)"], hint: "Scripts/local-broker.sh needs openssl (make setup)")
        }
        broker = Component(name: "broker", kind: .broker, executable: tools.mosquitto,
                           arguments: ["-c", "\(brokerDirectory)/mosquitto.conf"], logFile: "\(brokerDirectory)/mosquitto.out")

        validators = (0..<count).map { index in
            Component(name: "validator-\(index + 1)", kind: .node, executable: tools.node,
                      arguments: ["--config", "\(directory)/net/validator-\(index + 1)/node.toml"],
                      logFile: "\(directory)/net/validator-\(index + 1)/node.log")
        }

        // Candidates: full nodes made as `kognita-node init` makes them.
        var candidates: [Component] = []
        for index in 0..<candidateCount {
            let home = "\(directory)/net/candidate-\(index + 1)"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            do throws(FileError) { try KeyFile.save(SigningKey(), to: "\(home)/identity.key", replace: false) } catch {
                throw DevnetError("cannot write the identity of candidate-\(index + 1): \(error.message)")
            }
            try Self.write("""
                # Candidate \(index + 1) of the devnet: a full node until its account bonds and registers it.
                [node]
                identity = "file:identity.key"
                genesis = "../genesis.toml"
                data_directory = "data"

                [peer]
                listen = "127.0.0.1:\(candidatePeerPorts[index])"

                [api]
                listen = "127.0.0.1:\(candidateAPIPorts[index])"

                """, to: "\(home)/node.toml", mode: 0o644)
            candidates.append(Component(name: "candidate-\(index + 1)", kind: .node, executable: tools.node,
                                        arguments: ["--config", "\(home)/node.toml"], logFile: "\(home)/node.log"))
        }
        self.candidates = candidates

        var bridges: [Component] = []
        var bridgeAccounts: [AccountID] = []
        for index in 0..<bridgeCount {
            let home = "\(directory)/bridge-\(index + 1)"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            // The bridge's key is its account too: the devices name it in their batches and it is paid there.
            let key = SigningKey()
            do throws(FileError) { try KeyFile.save(key, to: "\(home)/bridge.key", replace: false) } catch {
                throw DevnetError("cannot write the identity of bridge-\(index + 1): \(error.message)")
            }
            bridgeAccounts.append(key.publicKey)
            try Self.write("""
                # Bridge \(index + 1) of the devnet (made by kognita devnet; Config/bridge.toml documents every key).
                [bridge]
                genesis = "\(directory)/net/genesis.toml"
                identity = "file:\(home)/bridge.key"
                share_group = "kognita-bridges"

                [broker]
                host = "127.0.0.1"
                port = \(brokerPort)
                username = "kognita-bridge"
                password_file = "\(brokerDirectory)/bridge-password"

                [metrics]
                listen = "127.0.0.1:\(bridgeMetricsPorts[index])"

                """, to: "\(home)/bridge.toml", mode: 0o644)
            bridges.append(Component(name: "bridge-\(index + 1)", kind: .bridge, executable: tools.bridge,
                                     arguments: ["run", "-c", "\(home)/bridge.toml"], logFile: "\(home)/bridge.log"))
        }
        self.bridges = bridges
        self.bridgeAccounts = bridgeAccounts
    }

    // MARK: - Starting

    /// Starts the broker and waits until it takes connections.
    func startBroker() async throws {
        try broker.start()
        try await waitUntilBrokerAccepts(within: 15)
    }

    /// Waits until the broker takes connections; throws with its log if it exits or takes too long.
    func waitUntilBrokerAccepts(within seconds: Double) async throws {
        let deadline = Monotonic.seconds() + seconds
        while Monotonic.seconds() < deadline {
            if FreePort.accepts(brokerPort) { return }
            guard broker.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DevnetError("mosquitto did not start (\(broker.exitDescription)); its log says:\n\(broker.logTail())")
    }

    /// Starts validator `index` and waits until it is ready (caught up).
    func startNode(_ index: Int, within seconds: Double = 60) async throws {
        try validators[index].start()
        try await waitUntilReady(index, within: seconds)
    }

    /// Waits until validator `index` answers and says it is ready (caught up); throws with its log if it exits or takes too long.
    public func waitUntilReady(_ index: Int, within seconds: Double = 60) async throws {
        let deadline = Monotonic.seconds() + seconds
        while Monotonic.seconds() < deadline {
            guard validators[index].isRunning else {
                throw DevnetError("validator-\(index + 1) exited (\(validators[index].exitDescription)):\n\(validators[index].logTail())")
            }
            if let status = await nodeStatus(index), status.ready { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw DevnetError("validator-\(index + 1) was not ready within \(Int(seconds)) s:\n\(validators[index].logTail())")
    }

    /// Starts bridge `index` and waits until it has every node and the broker.
    func startBridge(_ index: Int, within seconds: Double = 60) async throws {
        try bridges[index].start()
        try await waitUntilConnected(bridge: index, within: seconds)
    }

    func waitUntilConnected(bridge index: Int, within seconds: Double = 60) async throws {
        let deadline = Monotonic.seconds() + seconds
        while Monotonic.seconds() < deadline {
            guard bridges[index].isRunning else {
                throw DevnetError("bridge-\(index + 1) exited (\(bridges[index].exitDescription)):\n\(bridges[index].logTail())")
            }
            if let metrics = await bridgeMetrics(index), metrics.nodesConnected >= validators.count,
               bridges[index].logTail(1 << 16).contains("broker: connected") { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw DevnetError("bridge-\(index + 1) did not connect to the nodes and the broker within \(Int(seconds)) s:\n\(bridges[index].logTail())")
    }

    /// Stops everything: bridges, then nodes, then the broker (SIGTERM, SIGKILL after 10 s).
    public func stopAll() {
        for bridge in bridges { bridge.stop() }
        for node in validators + candidates { node.stop() }
        broker.stop()
    }

    // MARK: - Probes

    /// Starts every candidate and waits until each is ready.
    func startCandidates(within seconds: Double = 60) async throws {
        for candidate in candidates { try candidate.start() }
        for index in candidates.indices {
            let deadline = Monotonic.seconds() + seconds
            while true {
                guard candidates[index].isRunning else {
                    throw DevnetError("candidate-\(index + 1) exited (\(candidates[index].exitDescription)):\n\(candidates[index].logTail())")
                }
                if let status = try? await NodeAPIClient(url: candidateURL(index)).status(timeout: .seconds(2)), status.ready { break }
                guard Monotonic.seconds() < deadline else {
                    throw DevnetError("candidate-\(index + 1) was not ready within \(Int(seconds)) s:\n\(candidates[index].logTail())")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// `GET /v1/status` of validator `index`; nil when it does not answer in time.
    public func nodeStatus(_ index: Int, timeout: Duration = .seconds(2)) async -> NodeStatusResponse? {
        guard let api = try? NodeAPIClient(url: nodeURL(index)) else { return nil }
        return try? await api.status(timeout: timeout)
    }

    /// What the view needs from a bridge's `/metrics`.
    struct BridgeMetrics: Sendable {
        var nodesConnected: Int
        var inFlight: Int
        var received: Int
    }

    func bridgeMetrics(_ index: Int, timeout: Duration = .seconds(2)) async -> BridgeMetrics? {
        guard let client = try? NodeHTTPClient(url: "http://127.0.0.1:\(bridgeMetricsPorts[index])"),
              let response = try? await client.request(.GET, "/metrics", timeout: timeout), response.status == 200 else { return nil }
        var values: [String: Double] = [:]
        for line in response.text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
        }
        return BridgeMetrics(nodesConnected: Int(values["kognita_bridge_nodes_connected_count"] ?? 0),
                             inFlight: Int(values["kognita_bridge_in_flight_batches"] ?? 0),
                             received: Int(values["kognita_bridge_batches_received_total"] ?? 0))
    }

    /// Pays `amount` from the faucet (validator-1) to each account, `concurrency` at a time.
    func fund(_ accounts: [AccountID], amount: UInt64, concurrency: Int = 64) async throws {
        let url = nodeURL(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add() {
                let account = accounts[next]
                next += 1
                group.addTask {
                    let ack: AckResponse
                    do { ack = try await NodeAPIClient(url: url).faucet(account, amount: amount, timeout: .seconds(60)) } catch {
                        throw DevnetError("the faucet did not pay \(account.hex.prefix(16)): \(error)")
                    }
                    guard ack.status == "final" else {
                        throw DevnetError("the faucet did not pay \(account.hex.prefix(16)): \(ack.status) \(ack.error ?? "") \(ack.detail ?? "")")
                    }
                }
            }
            while next < min(concurrency, accounts.count) { add() }
            while try await group.next() != nil { if next < accounts.count { add() } }
        }
    }

    // MARK: - Files and tools

    static func write(_ text: String, to path: String, mode: mode_t = 0o600) throws {
        do throws(FileError) { try FileIO.writeAtomically(Array(text.utf8), to: path, mode: mode, replace: true) } catch {
            throw DevnetError("cannot write \(path): \(error.message)")
        }
    }
}

import Foundation
import KognitaCore
import KognitaLedger
import KognitaDevnet
import KognitaNode
import KognitaSystem

/// A real network of `kognita-node` processes on loopback for tests: the
/// devnet's network (KognitaDevnet's DevnetNetwork, with nodes only), made in
/// a temporary directory. Nodes can be killed with any signal and started
/// again; every process is stopped when the scope ends, whatever happens.
public final class LocalNetwork: Sendable {
    public let directory: String
    public let size: Int
    public let network = "testnet"
    /// The devnet's network underneath: its files, processes and probes.
    public let net: DevnetNetwork
    public var basePort: Int { net.peerBasePort }
    public var apiBasePort: Int { net.apiBasePort }

    /// Makes a network of `validators` nodes, starts them all, waits until they are
    /// ready, runs `body`, then stops them.
    public static func with<R>(validators: Int = 4, start: Bool = true, rules: EpochRules = EpochRules(),
                               dropVotes: [Int: UInt64] = [:], minimumFee: UInt64 = 0,
                               _ body: (LocalNetwork) async throws -> R) async throws -> R {
        try await TemporaryDirectory.with { dir in
            let network = try LocalNetwork(directory: dir, validators: validators, rules: rules, dropVotes: dropVotes, minimumFee: minimumFee)
            defer { network.stopAll() }
            if start {
                for index in 0..<validators { try network.start(index) }
                for index in 0..<validators { try await network.waitUntilReady(index) }
            }
            return try await body(network)
        }
    }

    init(directory: String, validators: Int, rules: EpochRules, dropVotes: [Int: UInt64] = [:], minimumFee: UInt64 = 0) throws {
        self.directory = directory
        size = validators
        let node = try Repository.builtProduct("kognita-node")
        // Nodes only: the broker's and the bridge's tools are never run.
        let tools = DevnetNetwork.Tools(node: node, bridge: "", agent: "", mosquitto: "", mosquittoPasswd: "", brokerScript: "")
        net = try DevnetNetwork(directory: directory, tools: tools, network: try NetworkID(network), validators: validators, bridges: 0, devices: [], rules: rules,
                                  dropVotes: dropVotes, minimumFee: minimumFee)
    }

    /// The directory of node `index` (0-based: validator-1 is index 0).
    public func home(_ index: Int) -> String { net.nodeHome(index) }
    public var faucetKeyPath: String { net.faucetKeyPath }
    public var genesisPath: String { net.genesisPath }
    public func identity(_ index: Int) throws -> SigningKey { try KeyFile.load("\(home(index))/identity.key") }
    public func url(_ index: Int) -> String { net.nodeURL(index) }
    public func client(_ index: Int) -> NodeHTTPClient { try! NodeHTTPClient(url: url(index)) }
    public func log(_ index: Int) -> String { (try? String(contentsOfFile: net.validators[index].logFile, encoding: .utf8)) ?? "" }

    /// Starts node `index` (again).
    public func start(_ index: Int) throws { try net.validators[index].start() }

    /// Stops node `index` with `signal` (SIGKILL: no chance to clean up);
    /// returns its exit code (nil when a signal ended it).
    @discardableResult
    public func stop(_ index: Int, signal: Int32 = SIGTERM) -> Int32? { net.validators[index].stop(signal: signal) }

    public func isRunning(_ index: Int) -> Bool { net.validators[index].isRunning }

    public func stopAll() { net.stopAll() }

    /// The typed API client of node `index`.
    public func api(_ index: Int) -> NodeAPIClient { try! NodeAPIClient(url: url(index)) }

    /// `GET /v1/status` of node `index`.
    public func status(_ index: Int) async throws -> NodeStatusResponse { try await api(index).status() }

    /// Waits until node `index` answers and says it is ready (caught up).
    public func waitUntilReady(_ index: Int, within seconds: Double = 30) async throws {
        do { try await net.waitUntilReady(index, within: seconds) } catch { throw TestSupportError("node \(index): \(error)") }
    }

    /// An account's head on node `index`: (next seq, balance).
    public func account(_ index: Int, _ account: AccountID) async throws -> (nextSeq: UInt64, balance: UInt64, lastFinal: String) {
        let head = try await api(index).account(account)
        return (head.nextSeq, head.balance, head.lastFinal)
    }

    /// The ledger digest of node `index`.
    public func digest(_ index: Int) async throws -> String { try await status(index).ledger.digest }

    /// Waits until the given nodes report the same ledger digest; returns it.
    @discardableResult
    public func waitForIdenticalLedgers(_ indexes: [Int]? = nil, within seconds: Double = 20) async throws -> String {
        let nodes = indexes ?? Array(0..<size)
        let deadline = Date().addingTimeInterval(seconds)
        var digests: [String] = []
        while Date() < deadline {
            digests = []
            for index in nodes { digests.append((try? await digest(index)) ?? "unreachable") }
            if Set(digests).count == 1, digests[0] != "unreachable" { return digests[0] }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestSupportError("the nodes' ledgers still differ after \(seconds) s: \(digests)")
    }

    /// Submits a batch over HTTP; returns the HTTP status and the node's ack.
    public func submit(_ index: Int, _ batch: SignedBatch, waitFinal: Bool = true) async throws -> (status: Int, body: AckResponse) {
        let (status, ack) = try await api(index).submit(batch.envelope, waitFinal: waitFinal, timeout: .seconds(40))
        return (status, ack)
    }

    /// Funds `account` from the faucet (validator-1 serves it).
    public func fund(_ account: AccountID, _ amount: UInt64) async throws {
        let ack = try await api(0).faucet(account, amount: amount, timeout: .seconds(40))
        guard ack.status == "final" else { throw TestSupportError("the faucet answered \(ack)") }
    }

}

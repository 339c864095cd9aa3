import KognitaCore
import KognitaNode
import Logging

/// The bridge's connections to the nodes, in the client role: one per
/// configured node, each kept open (reconnect with backoff and jitter) and
/// health-checked with a head query every few seconds. Submissions go round
/// robin over the healthy ones, so the load spreads and a dead node is
/// skipped at once (a failover).
public actor NodePool {
    public let targets: [DialTarget]
    let identity: SigningKey
    let genesis: Genesis
    let logger: Logger
    let onFailover: @Sendable () -> Void
    private var clients: [PublicKey: NodeClient] = [:]
    private var next = 0

    static let healthInterval = Duration.seconds(3)
    static let healthTimeout = Duration.seconds(3)
    static let maxBackoff = Duration.seconds(2)

    public init(targets: [DialTarget], identity: SigningKey, genesis: Genesis, logger: Logger, onFailover: @escaping @Sendable () -> Void = {}) {
        self.targets = targets
        self.identity = identity
        self.genesis = genesis
        self.logger = logger
        self.onFailover = onFailover
    }

    /// A healthy node connection, or nil when none is reachable.
    public func pick() -> NodeClient? {
        let open = targets.compactMap { target in clients[target.identity].flatMap { $0.isOpen ? $0 : nil } }
        guard !open.isEmpty else { return nil }
        next = (next + 1) % open.count
        return open[next]
    }

    /// Nodes connected now.
    public var connectedCount: Int { clients.values.filter(\.isOpen).count }

    private func set(_ client: NodeClient?, for target: DialTarget) {
        if client == nil, clients[target.identity] != nil { onFailover() }
        clients[target.identity] = client
    }

    /// Keeps every connection up until cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for target in targets { group.addTask { await self.maintain(target) } }
        }
    }

    private nonisolated func maintain(_ target: DialTarget) async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                let client = try await NodeClient.connect(to: target.address, node: target.identity, identity: identity, genesis: genesis)
                logger.info("connected to node \(target.identity.hex.prefix(12)) at \(target.address)")
                await set(client, for: target)
                backoff = .milliseconds(100)
                // Health: a head query must come back in time.
                while !Task.isCancelled && client.isOpen {
                    try? await Task.sleep(for: Self.healthInterval)
                    do { _ = try await client.head(of: identity.publicKey, timeout: Self.healthTimeout) } catch {
                        logger.warning("node \(target.address) failed its health check: \(error)")
                        break
                    }
                }
                await set(nil, for: target)
                await client.close()
                logger.warning("lost node \(target.identity.hex.prefix(12)) at \(target.address)")
            } catch {
                logger.debug("cannot reach node \(target.address): \(error)")
            }
            try? await Task.sleep(for: backoff * Double.random(in: 0.5...1.0))
            backoff = min(backoff * 2, Self.maxBackoff)
        }
    }
}

import KognitaCore
import KognitaNode
import Logging

/// The bridge's connections to the nodes, in the client role: one per
/// target node, each kept open (reconnect with backoff and jitter) and
/// health-checked with a head query every few seconds. Submissions go round
/// robin over the healthy ones, so the load spreads and a dead node is
/// skipped at once (a failover). The targets follow the committee
/// (``setTargets(_:)``, from the bridge's ``CommitteeFollower``).
public actor NodePool {
    public private(set) var targets: [DialTarget]
    private var changes: AsyncStream<Void>.Continuation?
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

    /// Replaces the targets: connections to nodes no longer named close, new ones open.
    public func setTargets(_ new: [DialTarget]) {
        guard Set(new) != Set(targets), !new.isEmpty else { return }
        logger.info("node targets now \(new.count): \(new.map { $0.identity.hex.prefix(12) }.joined(separator: ", "))")
        targets = new
        changes?.yield()
    }

    /// Keeps a connection to every target up until cancelled.
    public func run() async {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        changes = continuation
        var running: [DialTarget: Task<Void, Never>] = [:]
        defer { for task in running.values { task.cancel() } }
        var iterator = stream.makeAsyncIterator()
        repeat {
            let wanted = Set(targets)
            for (target, task) in running where !wanted.contains(target) {
                task.cancel()
                running[target] = nil
                await clients.removeValue(forKey: target.identity)?.close()
            }
            for target in wanted where running[target] == nil {
                running[target] = Task { await self.maintain(target) }
            }
        } while await withTaskCancellationHandler(operation: { await iterator.next() }, onCancel: { continuation.finish() }) != nil
    }

    private func stillWanted(_ target: DialTarget) -> Bool { targets.contains(target) }

    private nonisolated func maintain(_ target: DialTarget) async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                let client = try await NodeClient.connect(to: target.address, node: target.identity, identity: identity, genesis: genesis)
                logger.info("connected to node \(target.identity.hex.prefix(12)) at \(target.address)")
                guard await stillWanted(target), !Task.isCancelled else { await client.close(); return }
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

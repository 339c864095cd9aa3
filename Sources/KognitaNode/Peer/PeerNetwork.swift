import KognitaCore
import KognitaSystem
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A peer this node keeps a connection to.
public struct DialTarget: Sendable, Hashable {
    public let identity: PublicKey
    public let address: PeerAddress

    public init(identity: PublicKey, address: PeerAddress) {
        self.identity = identity
        self.address = address
    }
}

/// Whom the node dials; it changes when a checkpoint names a new committee.
/// ``PeerNetwork`` starts a dialer for each target added and stops the
/// dialer (and its connection) of each target removed.
public final class DialPlan: Sendable {
    private let state: Protected<(targets: Set<DialTarget>, waiters: [CheckedContinuation<Void, Never>])>

    public init(_ targets: [DialTarget]) { state = Protected((Set(targets), [])) }

    public var targets: Set<DialTarget> { state.withLock { $0.targets } }

    /// Replaces the targets (no change, no wake-up).
    public func set(_ targets: [DialTarget]) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            let new = Set(targets)
            guard new != state.targets else { return [] }
            state.targets = new
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Wakes every ``changed(from:)`` wait (on cancellation).
    func wake() {
        let waiters = state.withLock { state in
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the targets differ from `known`.
    func changed(from known: Set<DialTarget>) async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state in
                // Checked under the lock, so a cancellation either is seen
                // here or finds this wait to wake.
                if state.targets != known || Task.isCancelled { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}

/// The node's peer connections as a service: the listener for peers and
/// clients, and one dialer per peer it is meant to reach, reconnecting with
/// backoff and jitter. Each connection runs in its own child task, so a bad
/// peer ends only its own connection.
public struct PeerNetwork: Service {
    public let listen: PeerAddress
    public let identity: PeerIdentity
    public let plan: DialPlan
    let handler: any PeerLinkHandler
    let logger: Logger
    /// Called for every connection that failed its handshake or broke the protocol before it opened.
    let onRejected: @Sendable (any Error) -> Void
    /// Called once the listener is bound, with the port (useful with port 0).
    let onListening: @Sendable (Int) -> Void

    public init(listen: PeerAddress, identity: PeerIdentity, targets: [DialTarget], handler: any PeerLinkHandler, logger: Logger,
                onRejected: @escaping @Sendable (any Error) -> Void = { _ in }, onListening: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.init(listen: listen, identity: identity, plan: DialPlan(targets), handler: handler, logger: logger,
                  onRejected: onRejected, onListening: onListening)
    }

    /// A network whose dial targets follow `plan`.
    public init(listen: PeerAddress, identity: PeerIdentity, plan: DialPlan, handler: any PeerLinkHandler, logger: Logger,
                onRejected: @escaping @Sendable (any Error) -> Void = { _ in }, onListening: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.listen = listen
        self.identity = identity
        self.plan = plan
        self.handler = handler
        self.logger = logger
        self.onRejected = onRejected
        self.onListening = onListening
    }

    /// Longest wait between reconnect attempts.
    static let maxBackoff = Duration.seconds(2)

    public func run() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: listen.host, port: listen.port) { channel in PeerChannel.framed(channel) }
        let port = server.channel.localAddress?.port ?? listen.port
        logger.info("peer listener on \(listen.host):\(port)")
        onListening(port)
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    do {
                        try await server.executeThenClose { inbound in
                            try await withThrowingDiscardingTaskGroup { connections in
                                for try await channel in inbound {
                                    connections.addTask { await accept(channel) }
                                }
                            }
                        }
                    } catch {
                        if !Task.isCancelled { logger.error("the peer listener stopped: \(error)") }
                    }
                }
                group.addTask { await superviseDialers() }
            }
        }
    }

    /// One dialer task per target in the plan, started and cancelled as the plan changes.
    private func superviseDialers() async {
        var dialers: [DialTarget: Task<Void, Never>] = [:]
        defer { for task in dialers.values { task.cancel() } }
        var known: Set<DialTarget> = []
        while !Task.isCancelled {
            let targets = plan.targets
            for (target, task) in dialers where !targets.contains(target) {
                task.cancel()
                dialers[target] = nil
            }
            for target in targets where dialers[target] == nil {
                dialers[target] = Task { await dial(target) }
            }
            known = targets
            await withTaskCancellationHandler {
                await plan.changed(from: known)
            } onCancel: {
                // Wake the wait so the loop sees the cancellation.
                plan.wake()
            }
        }
    }

    private func accept(_ channel: PeerChannel) async {
        do {
            try await PeerSession.run(channel, initiator: false, expected: nil, identity: identity, handler: handler)
        } catch is CancellationError {
        } catch {
            onRejected(error)
            logger.warning("refused a connection: \(error)")
        }
    }

    private func dial(_ target: DialTarget) async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            let started = ContinuousClock.now
            do {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.seconds(3))
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .connect(host: target.address.host, port: target.address.port) { channel in PeerChannel.framed(channel) }
                try await PeerSession.run(channel, initiator: true, expected: target.identity, identity: identity, handler: handler)
            } catch {
                if error is PeerProtocolError { onRejected(error); logger.warning("connection to \(target.address) failed: \(error)") }
                else { logger.debug("cannot reach \(target.address): \(error)") }
            }
            // A connection that lasted a while was healthy: start the backoff over.
            if started.duration(to: .now) > .seconds(10) { backoff = .milliseconds(100) }
            let jitter = Double.random(in: 0.5...1.0)
            try? await Task.sleep(for: backoff * jitter)
            backoff = min(backoff * 2, Self.maxBackoff)
        }
    }
}

import KognitaCore
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

/// The node's peer connections as a service: the listener for peers and
/// clients, and one dialer per peer it is meant to reach, reconnecting with
/// backoff and jitter. Each connection runs in its own child task, so a bad
/// peer ends only its own connection.
public struct PeerNetwork: Service {
    public let listen: PeerAddress
    public let identity: PeerIdentity
    public let targets: [DialTarget]
    let handler: any PeerLinkHandler
    let logger: Logger
    /// Called for every connection that failed its handshake or broke the protocol before it opened.
    let onRejected: @Sendable (any Error) -> Void
    /// Called once the listener is bound, with the port (useful with port 0).
    let onListening: @Sendable (Int) -> Void

    public init(listen: PeerAddress, identity: PeerIdentity, targets: [DialTarget], handler: any PeerLinkHandler, logger: Logger,
                onRejected: @escaping @Sendable (any Error) -> Void = { _ in }, onListening: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.listen = listen
        self.identity = identity
        self.targets = targets
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
        try await cancelWhenGracefulShutdown {
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
                for target in targets {
                    group.addTask { await dial(target) }
                }
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

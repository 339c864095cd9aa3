import KognitaCore
import KognitaLedger
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A connection to a node in the client role (what a bridge or a load
/// generator uses): authenticated and encrypted like any peer link, with
/// many requests in flight at once.
public final class NodeClient: Sendable {
    public let link: PeerLink
    private let session: Task<Void, Never>

    private init(link: PeerLink, session: Task<Void, Never>) {
        self.link = link
        self.session = session
    }

    /// Connects to the node at `address` and completes the handshake. With
    /// `node`, the node must prove that identity (a validator's, from genesis).
    public static func connect(to address: PeerAddress, node: PublicKey?, identity: SigningKey, genesis: Genesis,
                               timeout: Duration = .seconds(10)) async throws -> NodeClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: address.host, port: address.port) { channel in PeerChannel.framed(channel) }
        let peerIdentity = PeerIdentity(key: identity, role: .client,
                                        policy: HandshakePolicy(network: genesis.network, genesis: genesis.digest, committee: try genesis.committee()))
        let (opened, openedContinuation) = AsyncStream.makeStream(of: PeerLink.self)
        let failure = Mutex<(any Error)?>(nil)
        let session = Task {
            do {
                try await PeerSession.run(channel, initiator: true, expected: node, identity: peerIdentity, handler: ClientLinkHandler(),
                                          onOpen: { openedContinuation.yield($0) })
            } catch {
                failure.withLock { $0 = error }
            }
            openedContinuation.finish()
        }
        for await link in opened { return NodeClient(link: link, session: session) }
        throw failure.withLock { $0 } ?? PeerProtocolError("the node at \(address) closed the connection during the handshake")
    }

    /// Submits a batch; the stream yields the node's acks (`accepted`, then
    /// `final` or `rejected`, or one of those at once) and ends after a
    /// `final` or `rejected` ack, or when the connection closes.
    public func submit(_ envelope: [UInt8]) -> AsyncStream<Ack> {
        let (request, replies) = link.streamingRequest { .submit(request: $0, envelope: envelope) }
        let link = self.link
        return AsyncStream { continuation in
            let pump = Task {
                for await reply in replies {
                    guard case .reply(_, let bytes) = reply, let ack = try? Ack(decoding: bytes) else { continue }
                    continuation.yield(ack)
                    if ack.status != .accepted { break }
                }
                link.finish(request)
                continuation.finish()
            }
            continuation.onTermination = { _ in
                pump.cancel()
                link.finish(request)
            }
        }
    }

    /// The account's head as the node knows it.
    public func head(of account: AccountID, timeout: Duration = .seconds(10)) async throws -> AccountHead {
        let reply = try await link.request(timeout: timeout) { .headQuery(request: $0, account: account) }
        guard case .reply(_, let bytes) = reply, let head = try Ack(decoding: bytes).head else {
            throw PeerProtocolError("the node answered a head query with something else")
        }
        return head
    }

    /// Whether the connection is still open.
    /// The checkpoints from `epoch` on that the node has (a page of at most
    /// ``PeerMessage/maxCheckpointsPage``, fewer when their bodies are large), each with the bodies that travel
    /// with it, checked against its header; the signatures are the caller's to check.
    public func checkpoints(from epoch: UInt64, timeout: Duration = .seconds(10)) async throws -> [LedgerStore.StoredCheckpoint] {
        let reply = try await link.request(timeout: timeout) { .checkpointsRequest(request: $0, from: epoch) }
        guard case .checkpoints(_, let entries) = reply else { throw PeerProtocolError("the node answered a checkpoints request with something else") }
        return entries
    }

    public var isOpen: Bool { !link.isClosed }

    /// Closes the connection.
    public func close() async {
        link.close()
        await session.value
    }
}

/// A client link ignores everything but replies (which the link routes itself).
private struct ClientLinkHandler: PeerLinkHandler {
    func linkOpened(_ link: PeerLink) async {}
    func received(_ message: PeerMessage, from link: PeerLink) async {}
    func linkClosed(_ link: PeerLink, error: (any Error)?) async {}
}

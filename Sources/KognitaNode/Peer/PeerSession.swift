import KognitaCore
import NIOCore

/// What a node (or a client) does with its links.
public protocol PeerLinkHandler: Sendable {
    /// A link finished its handshake.
    func linkOpened(_ link: PeerLink) async
    /// A message arrived that is not a reply to one of our requests.
    func received(_ message: PeerMessage, from link: PeerLink) async
    /// The link closed; `error` says why when it was not a clean close.
    func linkClosed(_ link: PeerLink, error: (any Error)?) async
}

/// Who this side is, for handshakes.
public struct PeerIdentity: Sendable {
    public let key: SigningKey
    public let role: PeerRole
    public let policy: HandshakePolicy

    public init(key: SigningKey, role: PeerRole, policy: HandshakePolicy) {
        self.key = key
        self.role = role
        self.policy = policy
    }
}

/// The channel type of a peer connection: one inbound buffer per frame.
public typealias PeerChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

extension PeerChannel {
    /// Wraps a freshly connected or accepted channel with the frame codec.
    static func framed(_ channel: any Channel) -> EventLoopFuture<PeerChannel> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: PeerMessage.maxFrameBytes)))
            try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
            return try PeerChannel(wrappingChannelSynchronously: channel)
        }
    }
}

/// Runs one connection from handshake to close: hello, proof, then encrypted
/// frames both ways until either side stops. Replies to our requests go to
/// the link's waiters; everything else to the handler.
enum PeerSession {
    /// How long a peer has to complete the handshake.
    static let handshakeTimeout = TimeAmount.seconds(5)

    static func run(_ channel: PeerChannel, initiator: Bool, expected: PublicKey?, identity: PeerIdentity,
                    handler: some PeerLinkHandler, onOpen: @Sendable (PeerLink) -> Void = { _ in }) async throws {
        let address = channel.channel.remoteAddress
        let remote = address.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        let rawChannel = channel.channel
        try await channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            let timeout = rawChannel.eventLoop.scheduleTask(in: handshakeTimeout) { rawChannel.close(promise: nil) }
            func nextFrame(_ what: String) async throws -> [UInt8] {
                guard let buffer = try await frames.next() else {
                    throw PeerProtocolError("the peer at \(remote) closed the connection before its \(what)")
                }
                return Array(buffer: buffer)
            }
            // 1. Hellos, in the clear.
            let exchange = EphemeralKeyExchange()
            let ownHello = Hello(network: identity.policy.network, genesis: identity.policy.genesis, role: identity.role,
                                 identity: identity.key.publicKey, ephemeral: exchange.publicKey).encoded()
            try await outbound.write(ByteBuffer(bytes: ownHello))
            let peerHelloBytes = try await nextFrame("hello")
            let peerHello = try Hello(decoding: peerHelloBytes)
            try identity.policy.check(peerHello, expected: expected)
            // 2. Proofs: each side signs the exchange, binding its identity to the session keys.
            let keys: SessionKeys
            do throws(KeyExchangeError) { keys = try exchange.sessionKeys(peer: peerHello.ephemeral, isClient: initiator) } catch {
                throw PeerProtocolError("the peer at \(remote) sent an unusable key-exchange key")
            }
            let sender = SecretStreamSender(keys: keys)
            let (first, second) = initiator ? (ownHello, peerHelloBytes) : (peerHelloBytes, ownHello)
            let ownTranscript = HandshakeProof.transcript(initiatorHello: first, responderHello: second, signerIsInitiator: initiator)
            let proof = HandshakeProof(signature: identity.key.signature(for: ownTranscript), streamHeader: sender.header)
            try await outbound.write(ByteBuffer(bytes: proof.encoded()))
            let peerProof = try HandshakeProof(decoding: try await nextFrame("proof"))
            let peerTranscript = HandshakeProof.transcript(initiatorHello: first, responderHello: second, signerIsInitiator: !initiator)
            guard peerHello.identity.isValidSignature(peerProof.signature, for: peerTranscript) else {
                throw PeerProtocolError("the peer at \(remote) could not prove it holds the identity \(peerHello.identity)")
            }
            let receiver: SecretStreamReceiver
            do throws(SecretStreamError) { receiver = try SecretStreamReceiver(keys: keys, header: peerProof.streamHeader) } catch {
                throw PeerProtocolError("the peer at \(remote) sent a bad stream header: \(error)")
            }
            timeout.cancel()

            // 3. Encrypted frames.
            let link = PeerLink(identity: peerHello.identity, role: peerHello.role, remote: remote)
            onOpen(link)
            await handler.linkOpened(link)
            var failure: (any Error)?
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        for await frame in link.frames {
                            let sealed = frame.withUnsafeBytes { sender.seal($0) }
                            try await outbound.write(ByteBuffer(bytes: sealed))
                        }
                    } catch {}
                    // Closed (or too far behind): end the reader too.
                    rawChannel.close(promise: nil)
                }
                do {
                    while let buffer = try await frames.next() {
                        let plaintext = try buffer.withUnsafeReadableBytes { try receiver.open($0) }
                        let message = try PeerMessage(decoding: plaintext)
                        switch message {
                        case .reply(let request, _), .heads(let request, _, _), .batches(let request, _), .checkpoints(let request, _):
                            // A reply to a request given up on is dropped.
                            _ = link.deliver(message, request: request)
                        default:
                            await handler.received(message, from: link)
                        }
                    }
                } catch {
                    failure = error
                }
                link.close()
                group.cancelAll()
            }
            await handler.linkClosed(link, error: failure)
        }
    }
}

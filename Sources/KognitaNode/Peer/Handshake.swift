import KognitaCore
import KognitaLedger

/// The role a peer claims in its hello.
public enum PeerRole: UInt64, Sendable, Hashable, CustomStringConvertible {
    /// A validator of a recent committee: its identity must be on one.
    case validator = 0
    /// A full node that does not vote.
    case fullNode = 1
    /// A bridge or a tool: submits batches and asks for heads.
    case client = 2

    public var description: String {
        switch self {
        case .validator: "validator"
        case .fullNode: "full node"
        case .client: "client"
        }
    }
}

/// The first frame each side sends, in the clear: who it is, for which
/// network, and a fresh key-exchange key.
public struct Hello: Sendable, Hashable {
    public static let context = "kognita-peer-v1"
    public let network: NetworkID
    /// Peers must have the same genesis, not just the same network name.
    public let genesis: Bytes32
    public let role: PeerRole
    /// The Ed25519 identity the sender proves it holds.
    public let identity: PublicKey
    /// The sender's ephemeral X25519 key for this connection.
    public let ephemeral: Bytes32

    public init(network: NetworkID, genesis: Bytes32, role: PeerRole, identity: PublicKey, ephemeral: Bytes32) {
        self.network = network
        self.genesis = genesis
        self.role = role
        self.identity = identity
        self.ephemeral = ephemeral
    }

    public func encoded() -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 160)
        w.writeArrayHeader(6)
        w.writeText(Self.context)
        w.writeText(network.rawValue)
        w.writeBytes(genesis)
        w.writeUnsigned(role.rawValue)
        w.writeBytes(identity.rawValue)
        w.writeBytes(ephemeral)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(PeerProtocolError) {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: 512))
            guard try r.readArrayHeader(maxCount: 6) == 6, try r.readText(maxBytes: 32) == Self.context else {
                throw PeerProtocolError("the peer does not speak \(Self.context)")
            }
            network = try NetworkID(try r.readText(maxBytes: 64))
            genesis = try r.readBytes32()
            guard let role = PeerRole(rawValue: try r.readUnsigned()) else { throw PeerProtocolError("the peer claims an unknown role") }
            self.role = role
            identity = PublicKey(try r.readBytes32())
            ephemeral = try r.readBytes32()
            try r.expectEnd()
        } catch let error as PeerProtocolError {
            throw error
        } catch {
            throw PeerProtocolError("the peer's hello is not well-formed: \(error)")
        }
    }
}

/// The second frame each side sends: a signature by its identity over the
/// whole exchange so far (both hellos, and which side it is), which binds the
/// identity to this connection's key exchange, and the header of its
/// encrypted stream.
public struct HandshakeProof: Sendable, Hashable {
    public let signature: Signature
    public let streamHeader: [UInt8]

    public init(signature: Signature, streamHeader: [UInt8]) {
        self.signature = signature
        self.streamHeader = streamHeader
    }

    /// What each side signs: CBOR `["kognita-handshake-v1", initiator hello, responder hello, signer is initiator]`.
    public static func transcript(initiatorHello: [UInt8], responderHello: [UInt8], signerIsInitiator: Bool) -> [UInt8] {
        var w = CBORWriter(reservingCapacity: initiatorHello.count + responderHello.count + 32)
        w.writeArrayHeader(4)
        w.writeText("kognita-handshake-v1")
        w.writeBytes(initiatorHello)
        w.writeBytes(responderHello)
        w.writeUnsigned(signerIsInitiator ? 1 : 0)
        return w.bytes
    }

    public func encoded() -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 100)
        w.writeArrayHeader(2)
        w.writeBytes(signature.bytes)
        w.writeBytes(streamHeader)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(PeerProtocolError) {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: 256))
            guard try r.readArrayHeader(maxCount: 2) == 2 else { throw PeerProtocolError("the peer's proof is not a pair") }
            signature = try Signature(bytes: try r.readByteString())
            streamHeader = try r.readByteString()
            try r.expectEnd()
        } catch let error as PeerProtocolError {
            throw error
        } catch {
            throw PeerProtocolError("the peer's proof is not well-formed: \(error)")
        }
    }
}

/// What a node accepts from a peer's hello (pure, so it is tested without sockets).
public struct HandshakePolicy: Sendable {
    public let network: NetworkID
    public let genesis: Bytes32
    /// Whether a peer may claim the validator role: it sits on a recent committee.
    public let acceptsValidator: @Sendable (PublicKey) -> Bool

    public init(network: NetworkID, genesis: Bytes32, acceptsValidator: @escaping @Sendable (PublicKey) -> Bool) {
        self.network = network
        self.genesis = genesis
        self.acceptsValidator = acceptsValidator
    }

    /// A policy for a fixed committee.
    public init(network: NetworkID, genesis: Bytes32, committee: Committee) {
        self.init(network: network, genesis: genesis, acceptsValidator: { committee.contains($0) })
    }

    /// Checks the peer's hello; `expected` is the identity a dialer meant to reach.
    public func check(_ hello: Hello, expected: PublicKey?) throws(PeerProtocolError) {
        guard hello.network == network else { throw PeerProtocolError("the peer is on network \(hello.network); this is \(network)") }
        guard hello.genesis == genesis else {
            throw PeerProtocolError("the peer has another genesis (\(hello.genesis.hex.prefix(16))...) for network \(network); check genesis.toml")
        }
        if let expected, hello.identity != expected {
            throw PeerProtocolError("the peer is \(hello.identity), not the expected \(expected)")
        }
        if hello.role == .validator, !acceptsValidator(hello.identity) {
            throw PeerProtocolError("the peer \(hello.identity) claims the validator role but sits on no recent committee")
        }
    }
}

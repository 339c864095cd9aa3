import KognitaCore

/// A leader's proposal of a checkpoint header in one round of the
/// agreement. The bodies and seal reports it rests on travel next to it
/// (the node's peer message); the agreement itself only needs the header.
public struct CheckpointProposal: Sendable, Hashable {
    public let header: CheckpointHeader
    public let round: UInt32
    /// The round in which a quorum prevoted this header before (Tendermint's
    /// "valid round"), or nil for a fresh proposal.
    public let validRound: UInt32?
    public let proposer: PublicKey
    public let signature: Signature

    public init(header: CheckpointHeader, round: UInt32, validRound: UInt32?, proposer: PublicKey, signature: Signature) {
        self.header = header
        self.round = round
        self.validRound = validRound
        self.proposer = proposer
        self.signature = signature
    }

    /// What the proposer signs: CBOR `["kognita-proposal-v1", network, epoch, round, valid_round + 1, digest]`.
    public static func signingBytes(network: NetworkID, epoch: UInt64, round: UInt32, validRound: UInt32?, digest: Bytes32) -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 96)
        w.writeArrayHeader(6)
        w.writeText("kognita-proposal-v1")
        w.writeText(network.rawValue)
        w.writeUnsigned(epoch)
        w.writeUnsigned(UInt64(round))
        w.writeUnsigned(validRound.map { UInt64($0) + 1 } ?? 0)
        w.writeBytes(digest)
        return w.bytes
    }

    public static func sign(header: CheckpointHeader, round: UInt32, validRound: UInt32?, with key: SigningKey) -> CheckpointProposal {
        let bytes = signingBytes(network: header.network, epoch: header.epoch, round: round, validRound: validRound, digest: header.digest)
        return CheckpointProposal(header: header, round: round, validRound: validRound, proposer: key.publicKey, signature: key.signature(for: bytes))
    }

    /// Whether the signature holds (the agreement checks that the proposer leads the round).
    public var isSigned: Bool {
        proposer.isValidSignature(signature, for: Self.signingBytes(network: header.network, epoch: header.epoch, round: round,
                                                                    validRound: validRound, digest: header.digest))
    }
}

/// A prevote or precommit of one validator in one round, for a header
/// digest or for nothing (nil). A precommit for a digest signs exactly
/// ``SignedCheckpoint/commitBytes(network:epoch:round:digest:)``, so a quorum
/// of precommits is a signed checkpoint as it stands.
public struct CheckpointVote: Sendable, Hashable {
    public enum Kind: UInt64, Sendable { case prevote = 1, precommit = 2 }

    public let kind: Kind
    public let network: NetworkID
    public let epoch: UInt64
    public let round: UInt32
    public let digest: Bytes32?
    public let validator: PublicKey
    public let signature: Signature

    public init(kind: Kind, network: NetworkID, epoch: UInt64, round: UInt32, digest: Bytes32?, validator: PublicKey, signature: Signature) {
        self.kind = kind
        self.network = network
        self.epoch = epoch
        self.round = round
        self.digest = digest
        self.validator = validator
        self.signature = signature
    }

    public static func signingBytes(kind: Kind, network: NetworkID, epoch: UInt64, round: UInt32, digest: Bytes32?) -> [UInt8] {
        if kind == .precommit, let digest { return SignedCheckpoint.commitBytes(network: network, epoch: epoch, round: round, digest: digest) }
        var w = CBORWriter(reservingCapacity: 96)
        w.writeArrayHeader(5)
        w.writeText(kind == .prevote ? "kognita-prevote-v1" : "kognita-commit-v1")
        w.writeText(network.rawValue)
        w.writeUnsigned(epoch)
        w.writeUnsigned(UInt64(round))
        if let digest { w.writeBytes(digest) } else { w.writeBytes([UInt8]()) }
        return w.bytes
    }

    public static func sign(_ kind: Kind, network: NetworkID, epoch: UInt64, round: UInt32, digest: Bytes32?, with key: SigningKey) -> CheckpointVote {
        let bytes = signingBytes(kind: kind, network: network, epoch: epoch, round: round, digest: digest)
        return CheckpointVote(kind: kind, network: network, epoch: epoch, round: round, digest: digest,
                              validator: key.publicKey, signature: key.signature(for: bytes))
    }

    public var isSigned: Bool {
        validator.isValidSignature(signature, for: Self.signingBytes(kind: kind, network: network, epoch: epoch, round: round, digest: digest))
    }
}

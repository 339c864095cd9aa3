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

// MARK: Wire codecs

extension CheckpointProposal {
    /// The largest encoded proposal (a header with a full committee, plus a few fields).
    public static let maxEncodedBytes = 32 << 10

    /// CBOR `[header, round, valid_round + 1 | 0, proposer, signature]`.
    public func encoded() -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 512)
        w.writeArrayHeader(5)
        w.writeEncoded(header.encoded())
        w.writeUnsigned(UInt64(round))
        w.writeUnsigned(validRound.map { UInt64($0) + 1 } ?? 0)
        w.writeBytes(proposer.rawValue)
        w.writeBytes(signature.bytes)
        return w.bytes
    }

    /// Decodes strictly; says nothing about the signature (``isSigned``).
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: Self.maxEncodedBytes, maxDepth: 5))
            guard try r.readArrayHeader(maxCount: 5) == 5 else { throw LedgerError("a proposal is [header, round, valid_round, proposer, signature]") }
            let header = try CheckpointHeader.read(&r)
            let round = try r.readUnsigned(), valid = try r.readUnsigned()
            guard round <= UInt64(UInt32.max), valid <= UInt64(UInt32.max) + 1 else { throw LedgerError("a proposal's round is beyond 2^32") }
            let proposer = PublicKey(try r.readBytes32())
            let signature = try Signature(bytes: try r.readByteString())
            try r.expectEnd()
            self.init(header: header, round: UInt32(round), validRound: valid == 0 ? nil : UInt32(valid - 1), proposer: proposer, signature: signature)
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("a checkpoint proposal is not well-formed: \(error)")
        }
    }
}

extension CheckpointVote {
    /// CBOR `[kind, network, epoch, round, digest | h'', validator, signature]`.
    public func encoded() -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 192)
        w.writeArrayHeader(7)
        w.writeUnsigned(kind.rawValue)
        w.writeText(network.rawValue)
        w.writeUnsigned(epoch)
        w.writeUnsigned(UInt64(round))
        if let digest { w.writeBytes(digest) } else { w.writeBytes([UInt8]()) }
        w.writeBytes(validator.rawValue)
        w.writeBytes(signature.bytes)
        return w.bytes
    }

    /// Decodes strictly; says nothing about the signature (``isSigned``).
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: 1024, maxDepth: 2))
            guard try r.readArrayHeader(maxCount: 7) == 7 else { throw LedgerError("a checkpoint vote has 7 fields") }
            guard let kind = Kind(rawValue: try r.readUnsigned()) else { throw LedgerError("a checkpoint vote of an unknown kind") }
            let network = try NetworkID(try r.readText(maxBytes: NetworkID.maxLength))
            let epoch = try r.readUnsigned(), round = try r.readUnsigned()
            guard round <= UInt64(UInt32.max) else { throw LedgerError("a checkpoint vote's round is beyond 2^32") }
            let digestBytes = try r.readByteString()
            let digest: Bytes32? = digestBytes.isEmpty ? nil : try Bytes32(digestBytes)
            let validator = PublicKey(try r.readBytes32())
            let signature = try Signature(bytes: try r.readByteString())
            try r.expectEnd()
            self.init(kind: kind, network: network, epoch: epoch, round: UInt32(round), digest: digest, validator: validator, signature: signature)
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("a checkpoint vote is not well-formed: \(error)")
        }
    }
}

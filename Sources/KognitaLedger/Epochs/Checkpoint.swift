import KognitaCore

/// The small signed part of a checkpoint: all a device or light client needs.
/// Headers chain back to genesis through ``previous``, and each names the
/// committee that signs the next.
public struct CheckpointHeader: Sendable, Hashable {
    public let network: NetworkID
    /// The epoch this checkpoint closes.
    public let epoch: UInt64
    /// The digest of the previous header; for epoch 0, the genesis digest.
    public let previous: Bytes32
    /// When the epoch ended, by the leader's clock, in ms since the Unix
    /// epoch. The next epoch ends `epoch_seconds` after it.
    public let timestamp: UInt64
    /// The ``StateRoot`` of the ledger at the cut.
    public let stateRoot: Bytes32
    /// The digest of each body, by kind (``CheckpointBodies/Kind``), in kind order.
    public let bodies: [BodyRoot]
    /// The committee of the next epoch, sorted by id.
    public let nextCommittee: [Validator]

    public struct BodyRoot: Sendable, Hashable {
        public let kind: UInt64
        public let root: Bytes32
        public init(kind: UInt64, root: Bytes32) {
            self.kind = kind
            self.root = root
        }
    }

    public static let context = "kognita-checkpoint-v1"

    public init(network: NetworkID, epoch: UInt64, previous: Bytes32, timestamp: UInt64, stateRoot: Bytes32,
                bodies: [BodyRoot], nextCommittee: [Validator]) {
        self.network = network
        self.epoch = epoch
        self.previous = previous
        self.timestamp = timestamp
        self.stateRoot = stateRoot
        self.bodies = bodies.sorted { $0.kind < $1.kind }
        self.nextCommittee = nextCommittee.sorted { $0.id < $1.id }
    }

    /// Deterministic CBOR: `["kognita-checkpoint-v1", network, epoch, previous,
    /// timestamp, state_root, [[kind, root]...], [[validator, weight]...]]`.
    public func encoded() -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 160 + nextCommittee.count * 44)
        w.writeArrayHeader(8)
        w.writeText(Self.context)
        w.writeText(network.rawValue)
        w.writeUnsigned(epoch)
        w.writeBytes(previous)
        w.writeUnsigned(timestamp)
        w.writeBytes(stateRoot)
        w.writeArrayHeader(bodies.count)
        for body in bodies { w.writeArrayHeader(2); w.writeUnsigned(body.kind); w.writeBytes(body.root) }
        w.writeArrayHeader(nextCommittee.count)
        for validator in nextCommittee { w.writeArrayHeader(2); w.writeBytes(validator.id.rawValue); w.writeUnsigned(validator.weight) }
        return w.bytes
    }

    /// BLAKE2b-256 of ``encoded()``: what the committee agrees on and signs.
    public var digest: Bytes32 { BLAKE2b256.hash(encoded()) }

    /// The most bodies a header names.
    public static let maxBodies = 16

    /// Decodes strictly (the exact shape, nothing after it).
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: 64 << 10, maxDepth: 4))
            self = try Self.read(&r)
            try r.expectEnd()
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("a checkpoint header is not well-formed: \(error)")
        }
    }

    static func read(_ r: inout CBORReader) throws -> CheckpointHeader {
        guard try r.readArrayHeader(maxCount: 8) == 8, try r.readText(maxBytes: 64) == context else {
            throw LedgerError("not a kognita-checkpoint-v1 header")
        }
        let network = try NetworkID(try r.readText(maxBytes: NetworkID.maxLength))
        let epoch = try r.readUnsigned()
        let previous = try r.readBytes32()
        let timestamp = try r.readUnsigned()
        let stateRoot = try r.readBytes32()
        var bodies: [BodyRoot] = []
        for _ in 0..<(try r.readArrayHeader(maxCount: maxBodies)) {
            guard try r.readArrayHeader(maxCount: 2) == 2 else { throw LedgerError("a body root is [kind, root]") }
            bodies.append(BodyRoot(kind: try r.readUnsigned(), root: try r.readBytes32()))
        }
        var committee: [Validator] = []
        for _ in 0..<(try r.readArrayHeader(maxCount: Committee.maxValidators)) {
            guard try r.readArrayHeader(maxCount: 2) == 2 else { throw LedgerError("a committee entry is [validator, weight]") }
            committee.append(Validator(id: PublicKey(try r.readBytes32()), weight: try r.readUnsigned()))
        }
        let header = CheckpointHeader(network: network, epoch: epoch, previous: previous, timestamp: timestamp,
                                      stateRoot: stateRoot, bodies: bodies, nextCommittee: committee)
        // Deterministic: one encoding per header (sorted, no duplicates).
        guard header.bodies == bodies, Set(bodies.map(\.kind)).count == bodies.count,
              header.nextCommittee == committee, Set(committee.map(\.id)).count == committee.count else {
            throw LedgerError("a checkpoint header's bodies or committee are not sorted and distinct")
        }
        return header
    }

    /// The committee this header names for epoch ``epoch`` + 1.
    public func committee() throws(LedgerError) -> Committee {
        try Committee(network: network, epoch: epoch + 1, validators: nextCommittee)
    }
}

/// A header and the commit signatures of more than 2/3 of its epoch's
/// weight, all from one round of the agreement (``CheckpointAgreement``).
public struct SignedCheckpoint: Sendable, Hashable {
    public let header: CheckpointHeader
    /// The agreement round in which the signers committed.
    public let round: UInt32
    /// Sorted by validator, none twice.
    public let signatures: [CommitSignature]

    public struct CommitSignature: Sendable, Hashable {
        public let validator: PublicKey
        public let signature: Signature
        public init(validator: PublicKey, signature: Signature) {
            self.validator = validator
            self.signature = signature
        }
    }

    public init(header: CheckpointHeader, round: UInt32, signatures: [CommitSignature]) {
        self.header = header
        self.round = round
        self.signatures = signatures.sorted { $0.validator < $1.validator }
    }

    /// The bytes a commit (precommit) signs: CBOR `["kognita-commit-v1",
    /// network, epoch, round, digest]`. The round is in them because
    /// precommits of different rounds must never add up to a quorum.
    public static func commitBytes(network: NetworkID, epoch: UInt64, round: UInt32, digest: Bytes32) -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 96)
        w.writeArrayHeader(5)
        w.writeText("kognita-commit-v1")
        w.writeText(network.rawValue)
        w.writeUnsigned(epoch)
        w.writeUnsigned(UInt64(round))
        w.writeBytes(digest)
        return w.bytes
    }

    /// Checks the signatures against `committee` (the epoch's): distinct
    /// members, each signature valid, together a quorum of weight.
    public func verify(for committee: Committee) throws(LedgerError) {
        guard header.network == committee.network else { throw LedgerError("a checkpoint of network \(header.network), not \(committee.network)") }
        guard header.epoch == committee.epoch else {
            throw LedgerError("a checkpoint of epoch \(header.epoch) checked against the committee of epoch \(committee.epoch)")
        }
        let bytes = Self.commitBytes(network: header.network, epoch: header.epoch, round: round, digest: header.digest)
        var weight: UInt64 = 0
        var previous: PublicKey?
        for entry in signatures {
            if let previous, !(previous < entry.validator) { throw LedgerError("a checkpoint's signers are not distinct and in order") }
            previous = entry.validator
            guard let signerWeight = committee.weight(of: entry.validator) else {
                throw LedgerError("checkpoint \(header.epoch) is signed by \(entry.validator), who is not on that epoch's committee")
            }
            guard entry.validator.isValidSignature(entry.signature, for: bytes) else {
                throw LedgerError("the signature of \(entry.validator) on checkpoint \(header.epoch) does not verify")
            }
            weight += signerWeight
        }
        guard weight >= committee.quorumWeight else {
            throw LedgerError("checkpoint \(header.epoch) is signed by \(weight) of \(committee.totalWeight) weight; it needs \(committee.quorumWeight)")
        }
        _ = try header.committee()
    }

    /// Deterministic CBOR: `[header, round, [[validator, signature]...]]`, the header as its own encoding.
    public func encoded() -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 256 + signatures.count * 100)
        w.writeArrayHeader(3)
        w.writeEncoded(header.encoded())
        w.writeUnsigned(UInt64(round))
        w.writeArrayHeader(signatures.count)
        for entry in signatures { w.writeArrayHeader(2); w.writeBytes(entry.validator.rawValue); w.writeBytes(entry.signature.bytes) }
        return w.bytes
    }

    /// The largest encoded signed checkpoint accepted.
    public static let maxEncodedBytes = 64 << 10

    /// Decodes strictly; proves nothing about signatures (see ``verify(for:)``).
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: Self.maxEncodedBytes, maxDepth: 5))
            self = try Self.read(&r)
            try r.expectEnd()
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("a signed checkpoint is not well-formed: \(error)")
        }
    }

    static func read(_ r: inout CBORReader) throws -> SignedCheckpoint {
        guard try r.readArrayHeader(maxCount: 3) == 3 else { throw LedgerError("a signed checkpoint is [header, round, signatures]") }
        let header = try CheckpointHeader.read(&r)
        let round = try r.readUnsigned()
        guard round <= UInt64(UInt32.max) else { throw LedgerError("a checkpoint round beyond 2^32") }
        var signatures: [CommitSignature] = []
        for _ in 0..<(try r.readArrayHeader(maxCount: Committee.maxValidators)) {
            guard try r.readArrayHeader(maxCount: 2) == 2 else { throw LedgerError("a commit signature is [validator, signature]") }
            signatures.append(CommitSignature(validator: PublicKey(try r.readBytes32()), signature: try Signature(bytes: try r.readByteString())))
        }
        let checkpoint = SignedCheckpoint(header: header, round: UInt32(round), signatures: signatures)
        guard checkpoint.signatures == signatures else { throw LedgerError("a checkpoint's signatures are not in validator order") }
        return checkpoint
    }
}

/// Verifying a chain of checkpoints from genesis: each header signed by the
/// committee its predecessor named, and chained to it by digest.
public enum CheckpointChain {
    /// Checks `checkpoints` (epochs 0, 1, 2, ... in order) from genesis and
    /// returns the committee the last one names; throws at the first link
    /// that does not hold, naming it.
    public static func verify(_ checkpoints: [SignedCheckpoint], genesisDigest: Bytes32, genesisCommittee: Committee) throws(LedgerError) -> Committee {
        var committee = genesisCommittee
        var previous = genesisDigest
        for checkpoint in checkpoints {
            guard checkpoint.header.epoch == committee.epoch else {
                throw LedgerError("the chain has checkpoint \(checkpoint.header.epoch) where epoch \(committee.epoch) belongs")
            }
            guard checkpoint.header.previous == previous else {
                throw LedgerError("checkpoint \(checkpoint.header.epoch) does not follow the one before it (previous digest differs)")
            }
            try checkpoint.verify(for: committee)
            previous = checkpoint.header.digest
            committee = try checkpoint.header.committee()
        }
        return committee
    }
}

import KognitaCore

/// One validator's vote for a list of batches: a single signature over the
/// Merkle root of their ids (see ``VoteStatement``). Votes are batched because
/// a signature costs far more than hashing a few hundred ids.
public struct Vote: Sendable, Hashable {
    public let network: NetworkID
    public let epoch: UInt64
    /// The batches voted for, in the order the tree was built (none twice).
    public let keys: [BatchKey]
    public let validator: PublicKey
    public let signature: Signature

    /// The most batches one vote may cover.
    public static let maxBatches = 1024

    public init(network: NetworkID, epoch: UInt64, keys: [BatchKey], validator: PublicKey, signature: Signature) {
        self.network = network
        self.epoch = epoch
        self.keys = keys
        self.validator = validator
        self.signature = signature
    }

    /// Signs a vote for `keys` (1 to ``maxBatches``, distinct) with `key`.
    public static func sign(keys: [BatchKey], network: NetworkID, epoch: UInt64, with key: SigningKey) -> Vote {
        precondition(!keys.isEmpty && keys.count <= maxBatches, "a vote covers 1 to \(maxBatches) batches")
        let root = MerkleTree(keys).root
        let bytes = VoteStatement.signingBytes(network: network, epoch: epoch, root: root, count: keys.count)
        return Vote(network: network, epoch: epoch, keys: keys, validator: key.publicKey, signature: key.signature(for: bytes))
    }

    /// Signs a vote for `keys` as a member of `committee` and returns it
    /// verified: a validator's own vote needs no checking, so the Merkle tree
    /// is built once and no signature is verified. Nil when `key` is not a member.
    public static func signVerified(keys: [BatchKey], committee: Committee, with key: SigningKey) -> VerifiedVote? {
        guard let weight = committee.weight(of: key.publicKey) else { return nil }
        precondition(!keys.isEmpty && keys.count <= maxBatches, "a vote covers 1 to \(maxBatches) batches")
        let tree = MerkleTree(keys)
        let bytes = VoteStatement.signingBytes(network: committee.network, epoch: committee.epoch, root: tree.root, count: keys.count)
        let vote = Vote(network: committee.network, epoch: committee.epoch, keys: keys, validator: key.publicKey, signature: key.signature(for: bytes))
        var indexByKey: [BatchKey: Int] = [:]
        indexByKey.reserveCapacity(keys.count)
        for (index, batch) in keys.enumerated() {
            precondition(indexByKey.updateValue(index, forKey: batch) == nil, "a vote names batch \(batch) twice")
        }
        return VerifiedVote(vote: vote, tree: tree, indexByKey: indexByKey, weight: weight)
    }

    /// Checks that the vote is for `committee`'s network and epoch, comes from
    /// one of its validators, covers 1 to ``maxBatches`` distinct batches, and that
    /// the signature holds. Only a verified vote counts towards a certificate.
    public func verify(for committee: Committee) throws(LedgerError) -> VerifiedVote {
        guard network == committee.network else { throw LedgerError("a vote for network \(network), not \(committee.network)") }
        guard epoch == committee.epoch else { throw LedgerError("a vote for epoch \(epoch); the committee is of epoch \(committee.epoch)") }
        guard let weight = committee.weight(of: validator) else { throw LedgerError("a vote from \(validator), who is not a validator of epoch \(epoch)") }
        guard !keys.isEmpty, keys.count <= Self.maxBatches else { throw LedgerError("a vote covers 1 to \(Self.maxBatches) batches, not \(keys.count)") }
        var indexByKey: [BatchKey: Int] = [:]
        indexByKey.reserveCapacity(keys.count)
        for (index, key) in keys.enumerated() {
            guard indexByKey.updateValue(index, forKey: key) == nil else { throw LedgerError("a vote names batch \(key) twice") }
        }
        let tree = MerkleTree(keys)
        let bytes = VoteStatement.signingBytes(network: network, epoch: epoch, root: tree.root, count: keys.count)
        guard validator.isValidSignature(signature, for: bytes) else { throw LedgerError("the vote's signature by \(validator) does not verify") }
        return VerifiedVote(vote: self, tree: tree, indexByKey: indexByKey, weight: weight)
    }
}

/// A vote whose signature and membership were checked (only ``Vote/verify(for:)``
/// makes one), with its Merkle tree kept to hand out inclusion paths.
public struct VerifiedVote: Sendable {
    public let vote: Vote
    let tree: MerkleTree
    let indexByKey: [BatchKey: Int]
    /// The validator's weight in the committee the vote was checked against.
    public let weight: UInt64

    /// This vote's part of a certificate for `key`, or nil when it does not cover `key`.
    public func signer(for key: BatchKey) -> Certificate.Signer? {
        guard let index = indexByKey[key] else { return nil }
        return Certificate.Signer(validator: vote.validator, count: UInt32(tree.count), index: UInt32(index),
                                  path: tree.path(for: index), signature: vote.signature)
    }
}

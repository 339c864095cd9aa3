import KognitaCore

/// One validator's vote for a list of batches: a single signature over the
/// Merkle root of their ids (see ``VoteStatement``). Votes are batched because
/// a signature costs far more than hashing a few hundred ids.
public struct Vote: Sendable, Hashable {
    public let network: NetworkID
    public let epoch: UInt64
    /// The batches voted for, in the order the tree was built (no id twice).
    public let ids: [BatchID]
    public let validator: PublicKey
    public let signature: Signature

    /// The most batch ids one vote may cover.
    public static let maxIDs = 1024

    public init(network: NetworkID, epoch: UInt64, ids: [BatchID], validator: PublicKey, signature: Signature) {
        self.network = network
        self.epoch = epoch
        self.ids = ids
        self.validator = validator
        self.signature = signature
    }

    /// Signs a vote for `ids` (1 to ``maxIDs``, distinct) with `key`.
    public static func sign(ids: [BatchID], network: NetworkID, epoch: UInt64, with key: SigningKey) -> Vote {
        precondition(!ids.isEmpty && ids.count <= maxIDs, "a vote covers 1 to \(maxIDs) batch ids")
        let root = MerkleTree(ids).root
        let bytes = VoteStatement.signingBytes(network: network, epoch: epoch, root: root, count: ids.count)
        return Vote(network: network, epoch: epoch, ids: ids, validator: key.publicKey, signature: key.signature(for: bytes))
    }

    /// Checks that the vote is for `committee`'s network and epoch, comes from
    /// one of its validators, covers 1 to ``maxIDs`` distinct ids, and that
    /// the signature holds. Only a verified vote counts towards a certificate.
    public func verify(for committee: Committee) throws(LedgerError) -> VerifiedVote {
        guard network == committee.network else { throw LedgerError("a vote for network \(network), not \(committee.network)") }
        guard epoch == committee.epoch else { throw LedgerError("a vote for epoch \(epoch); the committee is of epoch \(committee.epoch)") }
        guard let weight = committee.weight(of: validator) else { throw LedgerError("a vote from \(validator), who is not a validator of epoch \(epoch)") }
        guard !ids.isEmpty, ids.count <= Self.maxIDs else { throw LedgerError("a vote covers 1 to \(Self.maxIDs) batch ids, not \(ids.count)") }
        var indexByID: [BatchID: Int] = [:]
        indexByID.reserveCapacity(ids.count)
        for (index, id) in ids.enumerated() {
            guard indexByID.updateValue(index, forKey: id) == nil else { throw LedgerError("a vote names batch \(id) twice") }
        }
        let tree = MerkleTree(ids)
        let bytes = VoteStatement.signingBytes(network: network, epoch: epoch, root: tree.root, count: ids.count)
        guard validator.isValidSignature(signature, for: bytes) else { throw LedgerError("the vote's signature by \(validator) does not verify") }
        return VerifiedVote(vote: self, tree: tree, indexByID: indexByID, weight: weight)
    }
}

/// A vote whose signature and membership were checked (only ``Vote/verify(for:)``
/// makes one), with its Merkle tree kept to hand out inclusion paths.
public struct VerifiedVote: Sendable {
    public let vote: Vote
    let tree: MerkleTree
    let indexByID: [BatchID: Int]
    /// The validator's weight in the committee the vote was checked against.
    public let weight: UInt64

    /// This vote's part of a certificate for `id`, or nil when it does not cover `id`.
    public func signer(for id: BatchID) -> Certificate.Signer? {
        guard let index = indexByID[id] else { return nil }
        return Certificate.Signer(validator: vote.validator, count: UInt32(tree.count), index: UInt32(index),
                                  path: tree.path(for: index), signature: vote.signature)
    }
}

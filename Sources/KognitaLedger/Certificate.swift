import KognitaCore

/// Proof that a quorum of an epoch's validators voted for one batch: for each
/// voter, its signature over a vote's Merkle root and the path from the batch
/// id to that root.
public struct Certificate: Sendable, Hashable {
    /// One validator's part: its vote's shape (leaf count, the batch's index),
    /// the inclusion path and the vote's signature.
    public struct Signer: Sendable, Hashable {
        public let validator: PublicKey
        public let count: UInt32
        public let index: UInt32
        public let path: [Bytes32]
        public let signature: Signature

        public init(validator: PublicKey, count: UInt32, index: UInt32, path: [Bytes32], signature: Signature) {
            self.validator = validator
            self.count = count
            self.index = index
            self.path = path
            self.signature = signature
        }
    }

    /// The certified batch: its signer and id.
    public let batch: BatchKey
    public var batchID: BatchID { batch.id }
    public let network: NetworkID
    public let epoch: UInt64
    /// Sorted by validator id, no validator twice.
    public let signers: [Signer]

    /// Assembles a certificate; signers are put in canonical order.
    public init(batch: BatchKey, network: NetworkID, epoch: UInt64, signers: [Signer]) {
        self.batch = batch
        self.network = network
        self.epoch = epoch
        self.signers = signers.sorted { $0.validator < $1.validator }
    }

    /// Checks every signer against `committee`: the network and epoch match,
    /// each signer is a distinct member, its path leads from the batch id to a
    /// root its signature covers, and together they hold a quorum of weight.
    /// Signers beyond a quorum are checked too: a certificate carries no junk.
    public func verify(for committee: Committee) throws(LedgerError) -> VerifiedCertificate {
        guard network == committee.network else { throw LedgerError("a certificate for network \(network), not \(committee.network)") }
        guard epoch == committee.epoch else { throw LedgerError("a certificate of epoch \(epoch); the committee is of epoch \(committee.epoch)") }
        var weight: UInt64 = 0
        var previous: PublicKey?
        for signer in signers {
            if let previous, !(previous < signer.validator) {
                throw LedgerError("the certificate's signers are not distinct and in order")
            }
            previous = signer.validator
            guard let signerWeight = committee.weight(of: signer.validator) else {
                throw LedgerError("certificate signer \(signer.validator) is not a validator of epoch \(epoch)")
            }
            guard signer.count >= 1, signer.count <= UInt32(Vote.maxBatches),
                  let root = MerkleTree.root(of: batch, index: Int(signer.index), count: Int(signer.count), path: signer.path) else {
                throw LedgerError("certificate signer \(signer.validator) has an inclusion path that does not fit its vote")
            }
            let bytes = VoteStatement.signingBytes(network: network, epoch: epoch, root: root, count: Int(signer.count))
            guard signer.validator.isValidSignature(signer.signature, for: bytes) else {
                throw LedgerError("certificate signer \(signer.validator) has a signature that does not verify")
            }
            weight += signerWeight
        }
        guard weight >= committee.quorumWeight else {
            throw LedgerError("the certificate's votes weigh \(weight); a quorum needs \(committee.quorumWeight)")
        }
        return VerifiedCertificate(certificate: self)
    }
}

/// A certificate checked against its committee (only ``Certificate/verify(for:)``
/// makes one): the ledger applies nothing else.
public struct VerifiedCertificate: Sendable, Hashable {
    public let certificate: Certificate
    public var batch: BatchKey { certificate.batch }
}

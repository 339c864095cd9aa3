import KognitaCore

/// Proof that a validator voted for two different batches at one (account,
/// seq): the two batches as the device signed them (they prove the account,
/// the seq and the ids) and the validator's two votes, each as an inclusion
/// path to a signed vote root, in whatever epochs it cast them. Anyone who
/// holds both votes can make one (every vote goes to every validator, and
/// certificates carry votes); a checkpoint that includes it sets the
/// validator's rating to zero for good and burns half its stake
/// (docs/ECONOMICS.md, "Equivocation").
public struct EquivocationProof: Sendable, Hashable {
    /// One of the two votes.
    public struct Evidence: Sendable, Hashable {
        /// The epoch the vote was cast in (its committee must seat the validator).
        public let epoch: UInt64
        /// The device-signed batch (COSE_Sign1 envelope).
        public let envelope: [UInt8]
        /// The validator's vote for it.
        public let vote: Certificate.Signer
        public init(epoch: UInt64, envelope: [UInt8], vote: Certificate.Signer) {
            self.epoch = epoch
            self.envelope = envelope
            self.vote = vote
        }
    }

    public let network: NetworkID
    /// The two votes, ordered by their batch envelopes' bytes (one encoding per proof).
    public let votes: [Evidence]

    public static let context = "kognita-equivocation-v1"
    public static let maxEncodedBytes = 2 * ProtocolLimits.maxBatchBytes + 4096

    public init(network: NetworkID, _ first: Evidence, _ second: Evidence) {
        self.network = network
        let inOrder = first.envelope.lexicographicallyPrecedes(second.envelope)
            || (first.envelope == second.envelope && first.epoch <= second.epoch)
        votes = inOrder ? [first, second] : [second, first]
    }

    /// The validator the proof accuses (when both votes name the same one).
    public var offender: PublicKey { votes[0].vote.validator }
    /// The later of the two votes' epochs: the evidence window runs from it.
    public var latestEpoch: UInt64 { max(votes[0].epoch, votes[1].epoch) }

    /// Checks the proof: both batches are well-formed and signed by one
    /// account, at one seq, with different ids; both votes are by one
    /// validator, sit in its signed vote roots, and come from epochs whose
    /// committee (`committees`) seated it. Throws with the reason otherwise.
    public func verify(committees: (UInt64) -> Committee?) throws(LedgerError) {
        var batches: [SignedBatch] = []
        for (index, evidence) in votes.enumerated() {
            do throws(ProtocolError) { batches.append(try SignedBatch.verify(evidence.envelope, expectedNetwork: network)) } catch {
                throw LedgerError("equivocation proof: batch \(index + 1) is not a valid signed batch: \(error)")
            }
        }
        guard batches[0].signer == batches[1].signer else {
            throw LedgerError("equivocation proof: the two batches are from different accounts (\(batches[0].signer), \(batches[1].signer))")
        }
        guard batches[0].batch.seq == batches[1].batch.seq else {
            throw LedgerError("equivocation proof: the two batches are at seqs \(batches[0].batch.seq) and \(batches[1].batch.seq), not one seq")
        }
        guard batches[0].id != batches[1].id else { throw LedgerError("equivocation proof: both votes are for the same batch \(batches[0].id)") }
        guard votes[0].vote.validator == votes[1].vote.validator else {
            throw LedgerError("equivocation proof: the votes are by two validators (\(votes[0].vote.validator), \(votes[1].vote.validator))")
        }
        for (index, evidence) in votes.enumerated() {
            guard let committee = committees(evidence.epoch) else {
                throw LedgerError("equivocation proof: vote \(index + 1) is of epoch \(evidence.epoch), whose committee this node does not know")
            }
            guard committee.contains(evidence.vote.validator) else {
                throw LedgerError("equivocation proof: \(evidence.vote.validator) did not sit in epoch \(evidence.epoch)")
            }
            let signer = evidence.vote
            guard signer.count >= 1, signer.count <= UInt32(Vote.maxBatches), signer.index < signer.count,
                  let root = MerkleTree.root(of: BatchKey(batches[index]), index: Int(signer.index), count: Int(signer.count), path: signer.path) else {
                throw LedgerError("equivocation proof: vote \(index + 1)'s inclusion path does not fit its vote")
            }
            let bytes = VoteStatement.signingBytes(network: network, epoch: evidence.epoch, root: root, count: Int(signer.count))
            guard signer.validator.isValidSignature(signer.signature, for: bytes) else {
                throw LedgerError("equivocation proof: vote \(index + 1)'s signature by \(signer.validator) does not verify (bad-signature)")
            }
        }
    }

    /// CBOR `["kognita-equivocation-v1", network, [epoch, envelope, vote], [epoch, envelope, vote]]`.
    public func encoded() -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 256 + votes.reduce(0) { $0 + $1.envelope.count + 512 })
        w.writeArrayHeader(4)
        w.writeText(Self.context)
        w.writeText(network.rawValue)
        for evidence in votes {
            w.writeArrayHeader(3); w.writeUnsigned(evidence.epoch); w.writeBytes(evidence.envelope); evidence.vote.write(to: &w)
        }
        return w.bytes
    }

    /// Decodes strictly (the exact shape, the canonical order, nothing
    /// after). Proves nothing: call ``verify(committees:)``.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        guard bytes.count <= Self.maxEncodedBytes else { throw LedgerError("an equivocation proof of \(bytes.count) bytes is over the limit") }
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: Self.maxEncodedBytes, maxDepth: 4))
            guard try r.readArrayHeader(maxCount: 4) == 4, try r.readText(maxBytes: 64) == Self.context else {
                throw LedgerError("not a kognita-equivocation-v1 proof")
            }
            let network = try NetworkID(try r.readText(maxBytes: NetworkID.maxLength))
            var votes: [Evidence] = []
            for _ in 0..<2 {
                guard try r.readArrayHeader(maxCount: 3) == 3 else { throw LedgerError("an equivocation proof's vote is [epoch, batch, vote]") }
                let epoch = try r.readUnsigned()
                let envelope = try r.readByteString()
                guard envelope.count <= ProtocolLimits.maxBatchBytes + 1024 else { throw LedgerError("an equivocation proof's batch is too large") }
                votes.append(Evidence(epoch: epoch, envelope: envelope, vote: try Certificate.Signer.read(from: &r)))
            }
            try r.expectEnd()
            let proof = EquivocationProof(network: network, votes[0], votes[1])
            guard proof.votes == votes else { throw LedgerError("an equivocation proof's votes are not in canonical order") }
            self = proof
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("an equivocation proof is not well-formed: \(error)")
        }
    }
}

/// What checkpoint body 9 holds: the equivocation proofs the closing
/// epoch's reports carried that were admitted, and the stake each slash
/// burns, taken from the bonded stake first and then the unbonding stake.
public struct SlashesBody: Sendable, Hashable {
    public typealias Slash = NodeAmount

    public let proofs: [EquivocationProof]
    /// Sorted by node, one each.
    public let slashes: [Slash]

    public init(proofs: [EquivocationProof], slashes: [Slash]) {
        self.proofs = proofs.sorted { $0.offender < $1.offender }
        self.slashes = slashes.sorted { $0.node < $1.node }
    }

    public static let maxProofs = Committee.maxValidators

    /// CBOR `[[proof (bstr)...], [[node, account, amount]...]]`.
    public func encoded() -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 64 + proofs.count * 2048)
        w.writeArrayHeader(2)
        w.writeArrayHeader(proofs.count)
        for proof in proofs { w.writeBytes(proof.encoded()) }
        w.writeArrayHeader(slashes.count)
        for slash in slashes { w.writeArrayHeader(3); w.writeBytes(slash.node.rawValue); w.writeBytes(slash.account.rawValue); w.writeUnsigned(slash.amount) }
        return w.bytes
    }

    /// Decodes the slashes strictly (sorted distinct nodes). The proofs are
    /// kept as they are for anyone to check; a node applies the amounts.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: Self.maxProofs * EquivocationProof.maxEncodedBytes + 4096, maxDepth: 6))
            guard try r.readArrayHeader(maxCount: 2) == 2 else { throw LedgerError("a slashes body is [proofs, slashes]") }
            var proofs: [EquivocationProof] = []
            for _ in 0..<(try r.readArrayHeader(maxCount: Self.maxProofs)) {
                proofs.append(try EquivocationProof(decoding: try r.readByteString()))
            }
            var slashes: [Slash] = []
            for _ in 0..<(try r.readArrayHeader(maxCount: Self.maxProofs)) {
                guard try r.readArrayHeader(maxCount: 3) == 3 else { throw LedgerError("a slash is [node, account, amount]") }
                let slash = Slash(node: PublicKey(try r.readBytes32()), account: AccountID(try r.readBytes32()), amount: try r.readUnsigned())
                guard slashes.last.map({ $0.node < slash.node }) ?? true else { throw LedgerError("the slashes are not sorted by node, one each") }
                slashes.append(slash)
            }
            try r.expectEnd()
            self.init(proofs: proofs, slashes: slashes)
            guard self.proofs == proofs else { throw LedgerError("a slashes body's proofs are not sorted by offender") }
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("a slashes body is not well-formed: \(error)")
        }
    }
}

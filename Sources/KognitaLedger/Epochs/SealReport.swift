import KognitaCore

/// What a validator of epoch `e` reports when its clock ends the epoch and
/// it stops voting in it (docs/EPOCHS.md, section 4): the heads of the
/// accounts it applied in the epoch, the locks it holds on batches not final
/// here, and the candidate nodes it finds connected and caught up. The
/// leader builds the cut from the reports of more than 2/3 of the weight;
/// every validator rebuilds it from the same reports.
public struct SealReport: Sendable, Hashable {
    public let network: NetworkID
    public let epoch: UInt64
    public let validator: PublicKey
    /// Sorted by account, one each.
    public let heads: [Head]
    /// Sorted by account, one each (a validator locks one seq per account).
    public let locks: [LockEntry]
    /// Sorted, distinct.
    public let attested: [PublicKey]
    /// The votes the reporter received for final batches it sampled in
    /// secret (``InclusionSampler``): the signed evidence ratings are computed
    /// from. Sorted by batch, one each.
    public let samples: [InclusionSample]
    /// Proofs of equivocation the reporter holds (sorted by offender, one
    /// each): a checkpoint slashes every offender its reports prove.
    public let evidence: [EquivocationProof]
    /// The agreement round in which the reporter decided the checkpoint that
    /// opened this epoch (0 for epoch 0): when most reporters needed repeated
    /// view changes to enter the epoch, the network as a whole failed and
    /// nobody is rated for the epoch.
    public let previousRound: UInt32
    public let signature: Signature

    /// An account's final head at the reporter when it sealed.
    public struct Head: Sendable, Hashable {
        public let account: AccountID
        public let nextSeq: UInt64
        public let lastFinal: BatchID
        public init(account: AccountID, nextSeq: UInt64, lastFinal: BatchID) {
            self.account = account
            self.nextSeq = nextSeq
            self.lastFinal = lastFinal
        }
    }

    /// A lock the reporter holds: its vote at (account, seq) went to `id`.
    public struct LockEntry: Sendable, Hashable {
        public let account: AccountID
        public let seq: UInt64
        public let id: BatchID
        public init(account: AccountID, seq: UInt64, id: BatchID) {
            self.account = account
            self.seq = seq
            self.id = id
        }
    }

    public static let context = "kognita-seal-v1"
    /// Bounds that keep a report inside one peer frame (4 MiB): about 80
    /// bytes per head. A network with more accounts active in one epoch
    /// needs reports by digest and range (noted as future work in docs/EPOCHS.md).
    public static let maxHeads = 40_000
    public static let maxLocks = 8_192
    public static let maxAttested = Committee.maxValidators
    public static let maxSamples = 2 * GovernanceRules.samplesPerReport
    public static let maxEvidence = 8

    public init(network: NetworkID, epoch: UInt64, validator: PublicKey, heads: [Head], locks: [LockEntry],
                attested: [PublicKey], samples: [InclusionSample] = [], evidence: [EquivocationProof] = [], previousRound: UInt32 = 0,
                signature: Signature) {
        self.network = network
        self.epoch = epoch
        self.validator = validator
        self.heads = heads
        self.locks = locks
        self.attested = attested
        self.samples = samples
        self.evidence = evidence
        self.previousRound = previousRound
        self.signature = signature
    }

    /// Signs a report; sorts and de-duplicates its lists first.
    public static func sign(network: NetworkID, epoch: UInt64, heads: [Head], locks: [LockEntry], attested: [PublicKey],
                            samples: [InclusionSample] = [], evidence: [EquivocationProof] = [], previousRound: UInt32 = 0,
                            with key: SigningKey) -> SealReport {
        let heads = heads.sorted { $0.account < $1.account }
        let locks = locks.sorted { $0.account < $1.account }
        let attested = Array(Set(attested)).sorted()
        let samples = Array(samples.sorted { $0.batch < $1.batch }.prefix(maxSamples))
        var byOffender: [PublicKey: EquivocationProof] = [:]
        for proof in evidence where byOffender[proof.offender] == nil { byOffender[proof.offender] = proof }
        let evidence = Array(byOffender.values.sorted { $0.offender < $1.offender }.prefix(maxEvidence))
        let bytes = signingBytes(network: network, epoch: epoch, validator: key.publicKey, heads: heads, locks: locks,
                                 attested: attested, samples: samples, evidence: evidence, previousRound: previousRound)
        return SealReport(network: network, epoch: epoch, validator: key.publicKey, heads: heads, locks: locks,
                          attested: attested, samples: samples, evidence: evidence, previousRound: previousRound,
                          signature: key.signature(for: bytes))
    }

    /// CBOR `["kognita-seal-v1", network, epoch, validator, [[account,
    /// next_seq, last_final]...], [[account, seq, id]...], [node...],
    /// [[account, id, [[validator, count, index, [path...], signature]...]]...],
    /// [equivocation proof (bstr)...], previous_round]`.
    static func signingBytes(network: NetworkID, epoch: UInt64, validator: PublicKey, heads: [Head], locks: [LockEntry],
                             attested: [PublicKey], samples: [InclusionSample], evidence: [EquivocationProof], previousRound: UInt32) -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 128 + heads.count * 80 + locks.count * 80 + attested.count * 34 + samples.count * 1024)
        writeBody(&w, network: network, epoch: epoch, validator: validator, heads: heads, locks: locks, attested: attested,
                  samples: samples, evidence: evidence, previousRound: previousRound)
        return w.bytes
    }

    private static func writeBody(_ w: inout CBORWriter, network: NetworkID, epoch: UInt64, validator: PublicKey,
                                  heads: [Head], locks: [LockEntry], attested: [PublicKey], samples: [InclusionSample],
                                  evidence: [EquivocationProof], previousRound: UInt32) {
        w.writeArrayHeader(10)
        w.writeText(context)
        w.writeText(network.rawValue)
        w.writeUnsigned(epoch)
        w.writeBytes(validator.rawValue)
        w.writeArrayHeader(heads.count)
        for head in heads {
            w.writeArrayHeader(3); w.writeBytes(head.account.rawValue); w.writeUnsigned(head.nextSeq); w.writeBytes(head.lastFinal.rawValue)
        }
        w.writeArrayHeader(locks.count)
        for lock in locks {
            w.writeArrayHeader(3); w.writeBytes(lock.account.rawValue); w.writeUnsigned(lock.seq); w.writeBytes(lock.id.rawValue)
        }
        w.writeArrayHeader(attested.count)
        for node in attested { w.writeBytes(node.rawValue) }
        w.writeArrayHeader(samples.count)
        for sample in samples {
            w.writeArrayHeader(3); w.writeBytes(sample.batch.account.rawValue); w.writeBytes(sample.batch.id.rawValue)
            w.writeArrayHeader(sample.signers.count)
            for signer in sample.signers { signer.write(to: &w) }
        }
        w.writeArrayHeader(evidence.count)
        for proof in evidence { w.writeBytes(proof.encoded()) }
        w.writeUnsigned(UInt64(previousRound))
    }

    /// Whether the signature holds.
    public var isSigned: Bool {
        validator.isValidSignature(signature, for: Self.signingBytes(network: network, epoch: epoch, validator: validator,
                                                                     heads: heads, locks: locks, attested: attested, samples: samples,
                                                                     evidence: evidence, previousRound: previousRound))
    }

    /// CBOR `[report, signature]`, the report as in the signing bytes.
    public func encoded() -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 200 + heads.count * 80 + locks.count * 80)
        w.writeArrayHeader(2)
        Self.writeBody(&w, network: network, epoch: epoch, validator: validator, heads: heads, locks: locks, attested: attested,
                       samples: samples, evidence: evidence, previousRound: previousRound)
        w.writeBytes(signature.bytes)
        return w.bytes
    }

    /// Decodes strictly: the exact shape, lists sorted and distinct, nothing
    /// after it. Proves nothing about the signature (see ``isSigned``).
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: 6 << 20, maxDepth: 4,
                                                            maxItemCount: 9 + 4 * (Self.maxHeads + Self.maxLocks) + Self.maxAttested
                                                                + Self.maxSamples * (4 + Committee.maxValidators * 17)))
            self = try Self.read(&r)
            try r.expectEnd()
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("a seal report is not well-formed: \(error)")
        }
    }

    static func read(_ r: inout CBORReader) throws -> SealReport {
        guard try r.readArrayHeader(maxCount: 2) == 2, try r.readArrayHeader(maxCount: 10) == 10,
              try r.readText(maxBytes: 64) == context else {
            throw LedgerError("not a kognita-seal-v1 report")
        }
        let network = try NetworkID(try r.readText(maxBytes: NetworkID.maxLength))
        let epoch = try r.readUnsigned()
        let validator = PublicKey(try r.readBytes32())
        var heads: [Head] = []
        for _ in 0..<(try r.readArrayHeader(maxCount: maxHeads)) {
            guard try r.readArrayHeader(maxCount: 3) == 3 else { throw LedgerError("a seal report's head is [account, next_seq, last_final]") }
            let head = Head(account: AccountID(try r.readBytes32()), nextSeq: try r.readUnsigned(), lastFinal: BatchID(try r.readBytes32()))
            guard heads.last.map({ $0.account < head.account }) ?? true else { throw LedgerError("a seal report's heads are not sorted by account and distinct") }
            heads.append(head)
        }
        var locks: [LockEntry] = []
        for _ in 0..<(try r.readArrayHeader(maxCount: maxLocks)) {
            guard try r.readArrayHeader(maxCount: 3) == 3 else { throw LedgerError("a seal report's lock is [account, seq, id]") }
            let lock = LockEntry(account: AccountID(try r.readBytes32()), seq: try r.readUnsigned(), id: BatchID(try r.readBytes32()))
            guard locks.last.map({ $0.account < lock.account }) ?? true else { throw LedgerError("a seal report's locks are not sorted by account and distinct") }
            locks.append(lock)
        }
        var attested: [PublicKey] = []
        for _ in 0..<(try r.readArrayHeader(maxCount: maxAttested)) {
            let node = PublicKey(try r.readBytes32())
            guard attested.last.map({ $0 < node }) ?? true else { throw LedgerError("a seal report's attested nodes are not sorted and distinct") }
            attested.append(node)
        }
        var samples: [InclusionSample] = []
        for _ in 0..<(try r.readArrayHeader(maxCount: maxSamples)) {
            guard try r.readArrayHeader(maxCount: 3) == 3 else { throw LedgerError("a seal report's sample is [account, id, signers]") }
            let batch = BatchKey(account: AccountID(try r.readBytes32()), id: BatchID(try r.readBytes32()))
            guard samples.last.map({ $0.batch < batch }) ?? true else { throw LedgerError("a seal report's samples are not sorted by batch and distinct") }
            var signers: [Certificate.Signer] = []
            for _ in 0..<(try r.readArrayHeader(maxCount: Committee.maxValidators)) {
                let signer = try Certificate.Signer.read(from: &r)
                guard signers.last.map({ $0.validator < signer.validator }) ?? true else { throw LedgerError("a sample's votes are not sorted by validator and distinct") }
                signers.append(signer)
            }
            samples.append(InclusionSample(batch: batch, signers: signers))
        }
        var evidence: [EquivocationProof] = []
        for _ in 0..<(try r.readArrayHeader(maxCount: maxEvidence)) {
            let proof = try EquivocationProof(decoding: try r.readByteString())
            guard evidence.last.map({ $0.offender < proof.offender }) ?? true else { throw LedgerError("a seal report's proofs are not sorted by offender, one each") }
            evidence.append(proof)
        }
        let previousRound = try r.readUnsigned()
        guard previousRound <= UInt64(UInt32.max) else { throw LedgerError("a seal report's previous round is out of range") }
        let signature = try Signature(bytes: try r.readByteString())
        return SealReport(network: network, epoch: epoch, validator: validator, heads: heads, locks: locks, attested: attested,
                          samples: samples, evidence: evidence, previousRound: UInt32(previousRound), signature: signature)
    }
}

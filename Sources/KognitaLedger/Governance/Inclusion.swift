import KognitaCore

/// One sampled final batch in a seal report: the votes for it the reporter
/// had received when it sealed, each with the inclusion path that proves it.
public struct InclusionSample: Sendable, Hashable {
    public let batch: BatchKey
    /// Sorted by validator, one each.
    public let signers: [Certificate.Signer]
    public init(batch: BatchKey, signers: [Certificate.Signer]) {
        self.batch = batch
        self.signers = signers.sorted { $0.validator < $1.validator }
    }
}

/// How a validator picks, in secret, the final batches whose votes it will
/// report when it seals (docs/ECONOMICS.md, "Measuring work").
///
/// Every vote goes to every validator, so each validator sees who voted for
/// what. It keeps the votes of the few batches with the lowest value of a
/// function keyed by its own signature over the epoch, which nobody else can
/// compute: a validator that skips votes cannot know which of its votes will
/// be looked at, so it must cast all of them to be rated well (the lesson of
/// Solana's lagging voters). Memory stays bounded whatever the traffic.
public struct InclusionSampler: Sendable {
    private struct Entry: Sendable {
        var priority: UInt64
        var signers: [PublicKey: Certificate.Signer]
        var final: Bool
    }

    public let epoch: UInt64
    private let secret: Bytes32
    private let capacity: Int
    private var entries: [BatchKey: Entry] = [:]
    /// The highest priority kept once full: a batch above it is not sampled.
    private var ceiling: UInt64 = .max

    /// A sampler for `epoch`, keyed by `key`'s signature over the epoch.
    public init(network: NetworkID, epoch: UInt64, key: SigningKey, capacity: Int = 4 * GovernanceRules.samplesPerReport) {
        var w = CBORWriter(reservingCapacity: 64)
        w.writeArrayHeader(3); w.writeText("kognita-sample-v1"); w.writeText(network.rawValue); w.writeUnsigned(epoch)
        self.epoch = epoch
        self.secret = BLAKE2b256.hash(key.signature(for: w.bytes).bytes)
        self.capacity = capacity
    }

    private func priority(of key: BatchKey) -> UInt64 {
        var bytes = [UInt8]()
        bytes.reserveCapacity(96)
        secret.withUnsafeBytes { bytes.append(contentsOf: $0) }
        key.account.rawValue.withUnsafeBytes { bytes.append(contentsOf: $0) }
        key.id.rawValue.withUnsafeBytes { bytes.append(contentsOf: $0) }
        return BLAKE2b256.hash(bytes).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    /// Records a verified vote of this epoch for the batches it samples.
    public mutating func observe(_ vote: VerifiedVote) {
        guard vote.vote.epoch == epoch else { return }
        for key in vote.vote.keys {
            if entries[key] != nil {
                if let signer = vote.signer(for: key) { entries[key]!.signers[signer.validator] = signer }
                continue
            }
            let priority = priority(of: key)
            guard priority < ceiling else { continue }
            guard let signer = vote.signer(for: key) else { continue }
            entries[key] = Entry(priority: priority, signers: [signer.validator: signer], final: false)
            if entries.count > capacity, let worst = entries.max(by: { $0.value.priority < $1.value.priority }) {
                entries[worst.key] = nil
                ceiling = worst.value.priority
            }
        }
    }

    /// Marks a batch final here (only final batches are reported).
    public mutating func markFinal(_ key: BatchKey) {
        if entries[key] != nil { entries[key]!.final = true }
    }

    /// The samples to report: the final batches of lowest priority.
    public func samples(limit: Int = GovernanceRules.samplesPerReport) -> [InclusionSample] {
        entries.filter(\.value.final).sorted { $0.value.priority < $1.value.priority }.prefix(limit)
            .map { InclusionSample(batch: $0.key, signers: Array($0.value.signers.values)) }
            .sorted { $0.batch < $1.batch }
    }
}

/// An epoch's measures from the seal reports a checkpoint carries.
public enum Inclusion {
    /// Each committee member's measure (``GovernanceRules/measure(votes:reported:)``),
    /// or nil when the network as a whole failed and nobody is rated: no
    /// report holds a sample (nothing was certified), or entering the epoch
    /// took repeated view changes (``GovernanceRules/failedHandoverRound``).
    ///
    /// For each reporter with samples, a member's share is the fraction of
    /// the reporter's samples holding a valid vote by it (signature and path
    /// checked; a reporter never judges itself). The member's vote score is
    /// the lower median of its shares over the reporters, so reporters that
    /// leave an honest member's votes out (fewer than half of them) cannot
    /// lower it, and ones that vouch for a lazy member cannot raise it.
    public static func measures(reports: [SealReport], committee: Committee) -> [PublicKey: UInt64]? {
        // Entering the epoch took repeated view changes (the lower median of what the reporters saw): a network failure.
        let rounds = reports.filter { committee.contains($0.validator) }.map(\.previousRound).sorted()
        if !rounds.isEmpty, rounds[(rounds.count - 1) / 2] >= GovernanceRules.failedHandoverRound { return nil }
        var verified: [VerifiedKey: Bool] = [:]
        var shares: [PublicKey: [UInt64]] = [:]
        var anySample = false
        for report in reports where !report.samples.isEmpty && committee.contains(report.validator) {
            anySample = true
            var found: [PublicKey: UInt64] = [:]
            for sample in report.samples {
                for signer in sample.signers where signer.validator != report.validator && committee.contains(signer.validator) {
                    if isValid(signer, for: sample.batch, network: committee.network, epoch: committee.epoch, cache: &verified) {
                        found[signer.validator, default: 0] += 1
                    }
                }
            }
            for validator in committee.validators where validator.id != report.validator {
                shares[validator.id, default: []].append((found[validator.id] ?? 0) * GovernanceRules.full / UInt64(report.samples.count))
            }
        }
        guard anySample else { return nil }
        return measures(shares: shares, reported: Set(reports.map(\.validator)), committee: committee)
    }

    /// The measures from each member's shares (one per reporter with
    /// samples, never its own) and whether its own report made it: the
    /// lower median of the shares, weighed with the report.
    public static func measures(shares: [PublicKey: [UInt64]], reported: Set<PublicKey>, committee: Committee) -> [PublicKey: UInt64] {
        var result: [PublicKey: UInt64] = [:]
        for validator in committee.validators {
            let votes = shares[validator.id].flatMap { list -> UInt64? in
                guard !list.isEmpty else { return nil }
                let sorted = list.sorted()
                return sorted[(sorted.count - 1) / 2]
            }
            result[validator.id] = GovernanceRules.measure(votes: votes, reported: reported.contains(validator.id))
        }
        return result
    }

    private struct VerifiedKey: Hashable {
        let validator: PublicKey
        let root: Bytes32
        let count: UInt32
        let signature: [UInt8]
    }

    private static func isValid(_ signer: Certificate.Signer, for batch: BatchKey, network: NetworkID, epoch: UInt64,
                                cache: inout [VerifiedKey: Bool]) -> Bool {
        guard signer.count >= 1, signer.count <= UInt32(Vote.maxBatches), signer.index < signer.count,
              let root = MerkleTree.root(of: batch, index: Int(signer.index), count: Int(signer.count), path: signer.path) else { return false }
        // One vote signature covers many batches: check each signature once.
        let key = VerifiedKey(validator: signer.validator, root: root, count: signer.count, signature: signer.signature.bytes)
        if let known = cache[key] { return known }
        let bytes = VoteStatement.signingBytes(network: network, epoch: epoch, root: root, count: Int(signer.count))
        let valid = signer.validator.isValidSignature(signer.signature, for: bytes)
        cache[key] = valid
        return valid
    }
}

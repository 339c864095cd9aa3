import KognitaCore

/// Where epoch `e` ends, as its checkpoint records it: from the seal reports
/// of more than 2/3 of `C_e`'s weight, per account the highest reported
/// head (the cut), the locks to carry into later epochs, and the candidate
/// nodes that more than a third of the weight attests (docs/EPOCHS.md,
/// sections 4 and 8). Pure and deterministic: the leader builds it, every
/// validator rebuilds it from the same reports and compares.
public struct EpochCut: Sendable, Hashable {
    public let epoch: UInt64
    /// The reports it rests on, sorted by validator.
    public let reports: [SealReport]
    /// Per account: the highest head any report names.
    public let heads: [AccountID: SealReport.Head]
    /// Locks carried into epoch `e + 1`: the union of the reported locks
    /// above the cut, and the earlier carried locks still above it.
    public let carried: [AccountID: CarriedLock]
    /// Candidate nodes attested by more than a third of the weight.
    public let attested: Set<PublicKey>

    /// Combines `reports` for `committee`'s epoch. Throws when they do not
    /// weigh more than 2/3, or one is unsigned, from outside the committee,
    /// for another epoch or network, twice from one validator, or when two
    /// reports name different final batches at one head (which would mean
    /// two certificates at one (account, seq): a broken quorum assumption).
    public init(reports: [SealReport], committee: Committee, previouslyCarried: [AccountID: CarriedLock]) throws(LedgerError) {
        var seen: Set<PublicKey> = []
        var weight: UInt64 = 0
        for report in reports {
            guard report.network == committee.network, report.epoch == committee.epoch else {
                throw LedgerError("a seal report is for \(report.network) epoch \(report.epoch), not \(committee.network) epoch \(committee.epoch)")
            }
            guard let reporterWeight = committee.weight(of: report.validator) else {
                throw LedgerError("seal report by \(report.validator), who is not on the committee of epoch \(committee.epoch)")
            }
            guard seen.insert(report.validator).inserted else { throw LedgerError("two seal reports by \(report.validator)") }
            guard report.isSigned else { throw LedgerError("the seal report of \(report.validator) is not signed by it") }
            weight += reporterWeight
        }
        guard weight >= committee.quorumWeight else {
            throw LedgerError("seal reports weigh \(weight) of \(committee.totalWeight); a cut needs \(committee.quorumWeight)")
        }
        epoch = committee.epoch
        self.reports = reports.sorted { $0.validator < $1.validator }

        var heads: [AccountID: SealReport.Head] = [:]
        for report in self.reports {
            for head in report.heads {
                guard let known = heads[head.account] else { heads[head.account] = head; continue }
                if head.nextSeq > known.nextSeq {
                    heads[head.account] = head
                } else if head.nextSeq == known.nextSeq, head.lastFinal != known.lastFinal {
                    throw LedgerError("seal reports name two final batches (\(known.lastFinal), \(head.lastFinal)) before seq \(head.nextSeq) of \(head.account)")
                }
            }
        }
        self.heads = heads

        var locked: [AccountID: (seq: UInt64, ids: [BatchID])] = [:]
        func carry(_ account: AccountID, _ seq: UInt64, _ ids: [BatchID]) {
            // Only locks at or above the cut matter; below it the seq is final.
            if let head = heads[account], seq < head.nextSeq { return }
            if let existing = locked[account] {
                // One seq per account is locked at a time; the higher seq wins
                // (the lower one became final before it could be locked).
                if existing.seq > seq { return }
                if existing.seq == seq { locked[account] = (seq, existing.ids + ids); return }
            }
            locked[account] = (seq, ids)
        }
        for (account, lock) in previouslyCarried.sorted(by: { $0.key < $1.key }) { carry(account, lock.seq, lock.ids) }
        for report in self.reports { for lock in report.locks { carry(lock.account, lock.seq, [lock.id]) } }
        carried = locked.mapValues { CarriedLock(seq: $0.seq, ids: $0.ids) }

        var attestation: [PublicKey: UInt64] = [:]
        for report in self.reports {
            let reporterWeight = committee.weight(of: report.validator) ?? 0
            for node in report.attested { attestation[node, default: 0] += reporterWeight }
        }
        attested = Set(attestation.filter { $0.value > committee.totalWeight - committee.quorumWeight }.keys)
    }

    /// The cut's heads in account order.
    public var sortedHeads: [SealReport.Head] { heads.values.sorted { $0.account < $1.account } }
}

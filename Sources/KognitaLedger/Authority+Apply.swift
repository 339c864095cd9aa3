import KognitaCore

extension Authority {
    /// The most certified batches kept while their predecessor is missing.
    public static let maxCertifiedAhead = 100_000

    /// What applying a certificate changed.
    public struct Applied: Sendable, Hashable {
        /// The batches applied, in order: the certified one, then any
        /// certified successors that were waiting for it.
        public var batches: [SignedBatch] = []
        /// Each applied batch's certificate, in the same order as ``batches``.
        public var certificates: [VerifiedCertificate] = []
        /// Every account whose state changed (senders and recipients).
        public var changedAccounts: Set<AccountID> = []
        /// Locks released because their seq became final.
        public var releasedLocks: [AccountID: Lock] = [:]
        /// Batches that were waiting for a predecessor that is now final,
        /// with what the authority decided about them.
        public var followUps: [FollowUp] = []
    }

    /// A waiting batch decided once its predecessor became final.
    public struct FollowUp: Sendable, Hashable {
        public let batch: SignedBatch
        public let decision: Decision
    }

    /// What the authority did with a certificate.
    public enum Application: Sendable, Hashable {
        case applied(Applied)
        /// The account is already past this seq: applying again changes nothing.
        case alreadyFinal
        /// Kept until the certificates before it arrive (a node catching up).
        case waitingForPredecessor
    }

    /// Applies a certified batch: debits the sender (amounts and fee), credits
    /// the recipients, puts the fee in the pool, advances the sender's seq and
    /// releases its lock. Idempotent. Fails only when the certificate is not
    /// for this batch or the batch cannot be on this ledger at all, which a
    /// quorum of honest validators never certifies.
    public mutating func apply(_ batch: SignedBatch, _ certificate: VerifiedCertificate) throws(LedgerError) -> Application {
        guard certificate.batch == BatchKey(batch) else {
            throw LedgerError("the certificate is for batch \(certificate.batch), not \(BatchKey(batch))")
        }
        guard batch.batch.network == committee.network else {
            throw LedgerError("a certified batch of network \(batch.batch.network) on \(committee.network)")
        }
        let account = batch.signer, seq = batch.batch.seq
        let state = self.state(of: account)
        if seq < state.nextSeq { return .alreadyFinal }
        if seq > state.nextSeq {
            if certifiedAhead[account]?[seq] == nil {
                guard certifiedAheadTotal < Self.maxCertifiedAhead else {
                    throw LedgerError("too many certificates are waiting for their predecessors; fetch them in order")
                }
                certifiedAheadTotal += 1
            }
            certifiedAhead[account, default: [:]][seq] = (batch, certificate)
            return .waitingForPredecessor
        }
        var applied = Applied()
        try commit(batch, certificate, into: &applied)
        // Certified successors that arrived early, then a waiting batch to vote on.
        while true {
            let expected = self.state(of: account).nextSeq
            guard let (next, nextCertificate) = certifiedAhead[account]?.removeValue(forKey: expected) else { break }
            certifiedAheadTotal -= 1
            try commit(next, nextCertificate, into: &applied)
        }
        if certifiedAhead[account]?.isEmpty == true { certifiedAhead[account] = nil }
        let nextSeq = self.state(of: account).nextSeq
        if var queue = waiting[account] {
            let before = queue.count
            queue = queue.filter { $0.key >= nextSeq }
            let ready = queue.removeValue(forKey: nextSeq)
            waitingTotal -= before - queue.count
            waiting[account] = queue.isEmpty ? nil : queue
            if let ready { applied.followUps.append(FollowUp(batch: ready, decision: handle(ready))) }
        }
        return .applied(applied)
    }

    /// Applies one batch whose seq is the sender's next; checks before it changes anything.
    private mutating func commit(_ batch: SignedBatch, _ certificate: VerifiedCertificate, into applied: inout Applied) throws(LedgerError) {
        let account = batch.signer
        var sender = state(of: account)
        guard batch.batch.prev == sender.lastFinal else {
            throw LedgerError("certified batch \(batch.id) at seq \(batch.batch.seq) has prev \(batch.batch.prev), "
                              + "but the account's last final batch is \(sender.lastFinal): the certificates disagree (more than f validators are faulty)")
        }
        let debit: Amount, pool: Amount, burnt: Amount
        let share = GovernanceRules.split(fee: batch.batch.fee.baseUnits, hasBridge: batch.batch.via != nil)
        do throws(AmountError) {
            debit = try batch.batch.totalDebit()
            let repaid = min(feePoolDebt, share.pool)
            pool = try feePool.adding(Amount(share.pool - repaid))
            burnt = try burned.adding(Amount(share.burned))
        } catch {
            throw LedgerError("certified batch \(batch.id) overflows: \(error)")
        }
        sender.balance -= Int128(debit.baseUnits)
        sender.nextSeq += 1
        sender.lastFinal = batch.id
        accounts[account] = sender
        for transfer in batch.batch.transfers {
            accounts[transfer.to, default: AccountState()].balance += Int128(transfer.amount.baseUnits)
            applied.changedAccounts.insert(transfer.to)
        }
        feePoolDebt -= min(feePoolDebt, share.pool)
        feePool = pool
        burned = burnt
        if let bridge = batch.batch.via, share.bridge > 0 {
            // Paid at once: the device signed the bridge's name into the certified batch.
            accounts[bridge, default: AccountState()].balance += Int128(share.bridge)
            applied.changedAccounts.insert(bridge)
        }
        applied.changedAccounts.insert(account)
        if !batch.batch.operations.isEmpty { applyOperations(batch, epoch: certificate.certificate.epoch) }
        if let carried = carriedLocks[account], carried.seq <= batch.batch.seq { carriedLocks[account] = nil }
        if let lock = locks[account], lock.seq <= batch.batch.seq {
            locks[account] = nil
            applied.releasedLocks[account] = lock
        }
        applied.batches.append(batch)
        applied.certificates.append(certificate)
    }

    /// All money accounted for: balances, bonded and unbonding stake, the
    /// fee pool, and what was burned. Always the genesis supply (money is
    /// conserved); ``circulating`` is what still exists.
    public var totalMoney: Int128 { circulating + Int128(burned.baseUnits) }

    /// Balances, stakes and the fee pool: the genesis supply minus ``burned``.
    public var circulating: Int128 {
        let staked = stakes.values.reduce(Int128(0)) { $0 + Int128($1.bonded) + Int128($1.unbonding) }
        let owed = unbondingDebt.values.reduce(Int128(feePoolDebt)) { $0 + Int128($1) }
        return accounts.values.reduce(Int128(feePool.baseUnits) - owed + staked) { $0 + $1.balance }
    }

    /// A digest of the whole ledger: the state root (see ``StateRoot``) and
    /// the fee pool. Two nodes with the same certificates applied have the same digest.
    public var stateDigest: Bytes32 {
        var writer = CBORWriter(reservingCapacity: 48)
        writer.writeArrayHeader(4)
        writer.writeBytes(StateRoot(self).root)
        writer.writeUnsigned(feePool.baseUnits)
        writer.writeUnsigned(feePoolDebt)
        writer.writeUnsigned(burned.baseUnits)
        return BLAKE2b256.hash(writer.bytes)
    }
}

extension Authority {
    /// Removes and returns every certified batch kept ahead of its
    /// predecessor. A validator that seals its epoch takes them out, so that
    /// applying up to the cut can never pull in a successor beyond it.
    public mutating func takeCertifiedAhead() -> [(SignedBatch, VerifiedCertificate)] {
        let taken = certifiedAhead.values.flatMap { $0.values }
        certifiedAhead = [:]
        certifiedAheadTotal = 0
        return taken
    }
}

import KognitaCore

/// What entering an epoch changes in the ledger besides the committee
/// (docs/EPOCHS.md, section 7), computed once from the ledger at the cut and
/// committed to by the checkpoint (body kind 6).
///
/// Every node applies the transitions from this list, never by re-deriving
/// them from its own state: a node may already have applied a certificate of
/// the closing epoch that surfaced after the cut (section 8), and a list of
/// amounts and seats commutes with applying such a batch, where a rule
/// evaluated on the node's own state would not (a late unbond would merge
/// with stake due for release and hold it back on that node only).
public struct EpochTransitions: Sendable, Hashable {
    /// One account's changes, sorted by account in ``entries``.
    public struct Entry: Sendable, Hashable {
        public let account: AccountID
        /// Unbonding stake returned to the balance.
        public let released: UInt64
        /// Whether the account's candidate node sits on the next committee.
        public let seated: Bool
        public init(account: AccountID, released: UInt64, seated: Bool) {
            self.account = account
            self.released = released
            self.seated = seated
        }
    }

    /// The epoch being entered.
    public let epoch: UInt64
    public let entries: [Entry]

    public init(epoch: UInt64, entries: [Entry]) {
        self.epoch = epoch
        self.entries = entries.sorted { $0.account < $1.account }
    }

    /// The most entries one body may hold (one per staking account).
    public static let maxEntries = 1_000_000

    /// CBOR `[epoch, [[account, released, seated]...]]`, `seated` 0 or 1.
    public func encoded() -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 16 + entries.count * 48)
        w.writeArrayHeader(2)
        w.writeUnsigned(epoch)
        w.writeArrayHeader(entries.count)
        for entry in entries {
            w.writeArrayHeader(3); w.writeBytes(entry.account.rawValue); w.writeUnsigned(entry.released); w.writeUnsigned(entry.seated ? 1 : 0)
        }
        return w.bytes
    }

    /// Decodes strictly: sorted distinct accounts, flags 0 or 1, nothing after.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: 64 << 20, maxDepth: 4, maxItemCount: Self.maxEntries * 4 + 4))
            guard try r.readArrayHeader(maxCount: 2) == 2 else { throw LedgerError("epoch transitions are not [epoch, entries]") }
            let epoch = try r.readUnsigned()
            let count = try r.readArrayHeader(maxCount: Self.maxEntries)
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                guard try r.readArrayHeader(maxCount: 3) == 3 else { throw LedgerError("an epoch transition is not [account, released, seated]") }
                let account = AccountID(try r.readBytes32())
                let released = try r.readUnsigned()
                let seated = try r.readUnsigned()
                guard seated <= 1 else { throw LedgerError("an epoch transition's seated flag is \(seated), not 0 or 1") }
                if let last = entries.last, !(last.account < account) {
                    throw LedgerError("epoch transitions are not sorted by account, one each")
                }
                entries.append(Entry(account: account, released: released, seated: seated == 1))
            }
            try r.expectEnd()
            self.epoch = epoch
            self.entries = entries
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("epoch transitions are not well-formed: \(error)")
        }
    }
}

extension Authority {
    /// The transitions of entering `next`, from this ledger at the cut: the
    /// accounts whose node `next` seats, and the unbonding stake whose
    /// evidence window has passed (`K` epochs after the later of the unbond
    /// and the validator's last seat, counting the seat about to start).
    public func transitions(into next: Committee) -> EpochTransitions {
        let epoch = next.epoch
        var entries: [EpochTransitions.Entry] = []
        for (account, stake) in stakes {
            let seated = stake.candidate.map { next.contains($0.node) } ?? false
            let lastSeated = seated ? epoch : stake.lastSeated
            var released: UInt64 = 0
            if stake.unbonding > 0, epoch >= max(stake.unbondedIn, lastSeated ?? 0) + rules.evidenceEpochs + 1 {
                released = stake.unbonding
            }
            if seated || released > 0 { entries.append(.init(account: account, released: released, seated: seated)) }
        }
        return EpochTransitions(epoch: epoch, entries: entries)
    }

    /// Enters the epoch of `next` (every node, on adopting a checkpoint):
    /// applies `transitions` (seat marks, released stake), installs the
    /// checkpoint's carried locks where their seq is not final here yet,
    /// and switches the committee. Applies the same whether or not this
    /// ledger already holds certificates from after the cut.
    public mutating func enterEpoch(_ next: Committee, carried: [AccountID: CarriedLock], transitions: EpochTransitions,
                                    rewards: EpochRewards? = nil, ratings: RatingBook? = nil, slashes: [SlashesBody.Slash] = []) {
        applySlashes(slashes)
        if let rewards {
            // A node at or past the cut holds at least the pool the checkpoint paid out; one behind
            // it owes the rest until the fees of the batches it is missing come in (feePoolDebt).
            for payout in rewards.payouts {
                let fromPool = min(payout.amount, feePool.baseUnits)
                feePool = Amount(feePool.baseUnits - fromPool)
                feePoolDebt += payout.amount - fromPool
                accounts[payout.account, default: AccountState()].balance += Int128(payout.amount)
            }
        }
        if let ratings { self.ratings = ratings }
        for entry in transitions.entries {
            var stake = stakes[entry.account] ?? Stake()
            if entry.seated { stake.lastSeated = max(stake.lastSeated ?? 0, next.epoch) }
            // The whole release, always: a node behind the cut that has not applied the unbond
            // yet owes the rest (unbondingDebt), which the unbond repays when it applies.
            if entry.released > 0 {
                let held = min(entry.released, stake.unbonding)
                stake.unbonding -= held
                if entry.released > held { unbondingDebt[entry.account, default: 0] += entry.released - held }
                accounts[entry.account, default: AccountState()].balance += Int128(entry.released)
            }
            stakes[entry.account] = stake.isEmpty ? nil : stake
        }
        carriedLocks = carried.filter { $0.value.seq >= state(of: $0.key).nextSeq }
        committee = next
    }

    /// Burns each slash: from the bonded stake first, then the unbonding
    /// stake (the total is what the checkpoint decided, whatever unbond of
    /// the offender applied after the cut).
    mutating func applySlashes(_ slashes: [SlashesBody.Slash]) {
        for slash in slashes {
            var stake = stakes[slash.account] ?? Stake()
            let fromBonded = min(slash.amount, stake.bonded)
            let fromUnbonding = min(slash.amount - fromBonded, stake.unbonding)
            stake.bonded -= fromBonded
            stake.unbonding -= fromUnbonding
            burned = Amount(burned.baseUnits &+ fromBonded &+ fromUnbonding)
            stakes[slash.account] = stake.isEmpty ? nil : stake
        }
    }

    /// ``enterEpoch(_:carried:transitions:)`` for a ledger exactly at the cut,
    /// with the transitions computed from it.
    public mutating func enterEpoch(_ next: Committee, carried: [AccountID: CarriedLock]) {
        enterEpoch(next, carried: carried, transitions: transitions(into: next))
    }

    /// What the checkpoint closing this epoch decides about governance,
    /// from the ledger at the cut and the seal reports the cut rests on:
    /// each member's measure, the rating book after the epoch, and the
    /// rewards for it.
    /// `committees` gives the committee of any past epoch (to check the
    /// votes of equivocation proofs).
    public func governance(reports: [SealReport], committees: (UInt64) -> Committee?)
        -> (ratings: RatingsBody, rewards: EpochRewards, slashes: SlashesBody) {
        let measures = Inclusion.measures(reports: reports, committee: committee)
        var owners: [PublicKey: AccountID] = [:]
        for (node, accounts) in candidateAccounts where accounts.count == 1 { owners[node] = accounts.first }
        // Equivocation: each offender the reports prove, within the evidence window, not slashed before.
        var admitted: [PublicKey: EquivocationProof] = [:]
        for proof in reports.flatMap(\.evidence) where admitted[proof.offender] == nil && !ratings.isSlashed(proof.offender)
            && proof.latestEpoch + rules.evidenceEpochs >= committee.epoch && proof.network == committee.network {
            if (try? proof.verify(committees: committees)) != nil { admitted[proof.offender] = proof }
        }
        var slashes: [SlashesBody.Slash] = []
        for offender in admitted.keys.sorted() {
            guard let account = owners[offender], let stake = stakes[account] else { continue }
            let held = UInt128(stake.bonded) + UInt128(stake.unbonding)
            let amount = UInt64(held * UInt128(GovernanceRules.slashPermille) / UInt128(GovernanceRules.full))
            if amount > 0 { slashes.append(.init(node: offender, account: account, amount: amount)) }
        }
        let book = ratings.advanced(committee: committee, measures: measures, slashed: Set(admitted.keys))
        let rewards = EpochRewards.compute(pool: feePool.baseUnits, committee: committee, measures: measures,
                                           accounts: owners.filter { admitted[$0.key] == nil })
        return (RatingsBody(epoch: committee.epoch, measures: measures ?? [:], book: book), rewards,
                SlashesBody(proofs: Array(admitted.values), slashes: slashes))
    }
}

extension Authority {
    /// Sets the committee without any transition: for a node restarting in
    /// an epoch whose checkpoint it adopted (and stored) before it stopped.
    public mutating func switchCommittee(_ committee: Committee) { self.committee = committee }
}

import KognitaCore

/// The ledger authority of one node: account state, the validator's locks,
/// the fee pool, and the rules of DESIGN.md "Finality". Pure and synchronous:
/// it decides and changes memory; the node makes the decisions durable (a new
/// lock before its vote leaves) and does all I/O.
///
/// Every handler checks everything first and commits last, and is idempotent:
/// the same batch twice gets the same vote, the same certificate twice
/// changes nothing.
public struct Authority: Sendable {
    /// The committee of the current epoch (it changes at each checkpoint).
    public internal(set) var committee: Committee
    /// The smallest fee a batch must offer.
    public let minimumFee: Amount
    /// The epoch settings from genesis.
    public let rules: EpochRules
    /// Bonded stake and candidates, by account (only accounts that ever bonded).
    public internal(set) var stakes: [AccountID: Stake]
    /// The accounts whose registration names each candidate node. Two
    /// accounts can both hold certified registrations of one node (their
    /// chains are independent, so both can be certified before either is
    /// applied); such a node is contested and never seated (``Election``),
    /// which keeps the ledger the same whatever order certificates arrive in.
    public internal(set) var candidateAccounts: [PublicKey: Set<AccountID>]
    /// Locks the last checkpoint carried over from earlier epochs, by account:
    /// at that seq only a carried batch may become final (docs/EPOCHS.md).
    public internal(set) var carriedLocks: [AccountID: CarriedLock]
    public internal(set) var accounts: [AccountID: AccountState]
    /// At most one per account, at its next seq.
    public internal(set) var locks: [AccountID: Lock]
    /// The validators' share of the fees not paid out yet: each checkpoint
    /// pays it to the committee that earned it (``EpochRewards``).
    public internal(set) var feePool: Amount
    /// What a checkpoint paid out beyond the pool this node held when it
    /// adopted it: a node behind the checkpoint's cut (catching up) holds
    /// less than the pool at the cut until the missing batches apply, and
    /// their fees repay this first. Zero on a node at or past the cut, so
    /// every node ends with the same pool whatever order it applied things in.
    public internal(set) var feePoolDebt: UInt64
    /// Unbonding stake a checkpoint released beyond what this node held
    /// when it adopted it, by account: a node behind the cut has not applied
    /// the unbond yet. When the unbond applies, the stake goes straight to
    /// repay this, so the node ends with the ledger every other node has.
    public internal(set) var unbondingDebt: [AccountID: UInt64]
    /// Everything burned since genesis: the burn and relay shares of every
    /// fee, and slashed stake. Money is conserved as balances + stakes +
    /// pool + burned = the genesis supply.
    public internal(set) var burned: Amount
    /// Every validator's rating record, as the last checkpoint left it.
    public internal(set) var ratings: RatingBook

    /// Batches that arrived ahead of their predecessor, by account and seq.
    var waiting: [AccountID: [UInt64: SignedBatch]] = [:]
    var waitingTotal = 0
    /// Certified batches ahead of their predecessor (a node catching up).
    var certifiedAhead: [AccountID: [UInt64: (SignedBatch, VerifiedCertificate)]] = [:]
    var certifiedAheadTotal = 0

    /// How far beyond an account's next seq a batch may arrive and wait.
    public static let lookahead: UInt64 = 16
    /// The most batches waiting for their predecessor, over all accounts.
    public let maxWaiting: Int

    /// An authority with the given state (as loaded from storage).
    public init(committee: Committee, minimumFee: Amount = .zero, rules: EpochRules = EpochRules(),
                accounts: [AccountID: AccountState], stakes: [AccountID: Stake] = [:],
                locks: [AccountID: Lock] = [:], carriedLocks: [AccountID: CarriedLock] = [:],
                feePool: Amount = .zero, feePoolDebt: UInt64 = 0, unbondingDebt: [AccountID: UInt64] = [:], burned: Amount = .zero, ratings: RatingBook = RatingBook(), maxWaiting: Int = 100_000) {
        self.committee = committee
        self.minimumFee = minimumFee
        self.rules = rules
        self.accounts = accounts
        self.stakes = stakes
        var owners: [PublicKey: Set<AccountID>] = [:]
        for (account, stake) in stakes { if let node = stake.candidate?.node { owners[node, default: []].insert(account) } }
        candidateAccounts = owners
        self.locks = locks
        self.carriedLocks = carriedLocks
        self.feePool = feePool
        self.feePoolDebt = feePoolDebt
        self.unbondingDebt = unbondingDebt
        self.burned = burned
        self.ratings = ratings
        self.maxWaiting = maxWaiting
    }

    /// The state at genesis: each allocation credited to its account.
    public static func genesis(committee: Committee, minimumFee: Amount = .zero, rules: EpochRules = EpochRules(),
                               allocations: [(AccountID, Amount)], stakes: [AccountID: Stake] = [:]) throws(LedgerError) -> Authority {
        var accounts: [AccountID: AccountState] = [:]
        var supply = Amount.zero
        for (account, amount) in allocations {
            do throws(AmountError) { supply = try supply.adding(amount) } catch {
                throw LedgerError("the genesis allocations add up to more than \(UInt64.max) base units")
            }
            accounts[account, default: AccountState()].balance += Int128(amount.baseUnits)
        }
        for (_, stake) in stakes {
            do throws(AmountError) { supply = try supply.adding(Amount(stake.bonded)) } catch {
                throw LedgerError("the genesis allocations and bonds add up to more than \(UInt64.max) base units")
            }
        }
        return Authority(committee: committee, minimumFee: minimumFee, rules: rules, accounts: accounts, stakes: stakes)
    }

    /// The account's state (a fresh account when the ledger has never seen it).
    public func state(of account: AccountID) -> AccountState { accounts[account] ?? AccountState() }

    /// Batches waiting for their predecessor, over all accounts.
    public var waitingCount: Int { waitingTotal }

    // MARK: Voting

    /// What the authority does with a batch that passed decoding and its signature check.
    public enum Decision: Sendable, Hashable {
        /// Vote for it. `lockIsNew`: the lock was just taken and must be on
        /// disk before the vote is sent; otherwise this is the same vote again.
        case vote(BatchID, lockIsNew: Bool)
        /// Its seq is ahead of the account's next: it waits, and is decided
        /// when its predecessor becomes final.
        case waiting
        /// Its seq is already final: the node answers `final` when the final
        /// batch there is this one, `stale` otherwise.
        case belowNext(AccountHead)
        /// Refused, with the contract's reason.
        case rejected(Rejection)
    }

    /// Decides on `batch` and, when it votes, takes the lock (account, seq) -> id.
    public mutating func handle(_ batch: SignedBatch) -> Decision {
        let account = batch.signer, seq = batch.batch.seq
        let state = self.state(of: account)
        func reject(_ reason: RejectReason, _ detail: String) -> Decision {
            .rejected(Rejection(reason, detail, head: state.head))
        }
        guard batch.batch.network == committee.network else {
            return reject(.wrongNetwork, "the batch is for network \(batch.batch.network); this is \(committee.network)")
        }
        if seq < state.nextSeq { return .belowNext(state.head) }
        if seq > state.nextSeq {
            guard seq - state.nextSeq <= Self.lookahead else {
                return reject(.gap, "seq \(seq) is beyond the account's next seq \(state.nextSeq) by more than \(Self.lookahead)")
            }
            let replaced = waiting[account]?[seq] != nil
            guard replaced || waitingTotal < maxWaiting else {
                return reject(.overloaded, "too many batches are waiting for their predecessor; resend later")
            }
            // Nothing is locked for a waiting batch, so a newer one at the same
            // seq (the device re-chained) simply takes its place.
            waiting[account, default: [:]][seq] = batch
            if !replaced { waitingTotal += 1 }
            return .waiting
        }
        guard batch.batch.prev == state.lastFinal else {
            return reject(.stale, "prev \(batch.batch.prev) is not the account's last final batch \(state.lastFinal)")
        }
        if let lock = locks[account], lock.seq == seq {
            return lock.id == batch.id ? .vote(batch.id, lockIsNew: false)
                : reject(.conflict, "this validator already voted for batch \(lock.id) at seq \(seq)")
        }
        guard batch.batch.fee >= minimumFee else {
            return reject(.feeTooLow, "the fee \(batch.batch.fee) is below the network's minimum of \(minimumFee)")
        }
        let debit: Amount
        do throws(AmountError) { debit = try batch.batch.totalDebit() } catch {
            return reject(.malformed, "the amounts and the fee add up to more than \(UInt64.max): \(error)")
        }
        guard state.balance >= Int128(debit.baseUnits) else {
            return reject(.insufficientFunds, "the batch needs \(debit) and the balance is \(state.head.balance)")
        }
        if let refusal = checkOperations(batch) { return .rejected(refusal) }
        if let carried = carriedLocks[account], carried.seq == seq {
            guard carried.admits(batch.id) else {
                if carried.ids.count > 1 {
                    let held = carried.ids.map { "\($0)" }.joined(separator: " and ")
                    return reject(.conflict, "the account signed rival batches \(held) at seq \(seq) and both were locked when an earlier epoch ended; that seq is frozen and only a certificate formed back then can fill it")
                }
                return reject(.conflict, "batch \(carried.ids[0]) was locked at seq \(seq) when an earlier epoch ended; only it can become final there (resend that batch)")
            }
        }
        locks[account] = Lock(seq: seq, id: batch.id)
        return .vote(batch.id, lockIsNew: true)
    }
}

import KognitaCore

extension Authority {
    /// Checks a version-2 batch's operations against the account's stake, in
    /// order; nil when they all hold. (Bonds are part of the batch's debit,
    /// which the balance check covers.)
    func checkOperations(_ batch: SignedBatch) -> Rejection? {
        guard !batch.batch.operations.isEmpty else { return nil }
        let account = batch.signer
        let head = state(of: account).head
        var bonded = stakes[account]?.bonded ?? 0
        for (index, operation) in batch.batch.operations.enumerated() {
            switch operation {
            case .bond(let amount):
                let (sum, overflow) = bonded.addingReportingOverflow(amount.baseUnits)
                guard !overflow else { return Rejection(.malformed, "operation \(index): the bond overflows", head: head) }
                bonded = sum
            case .unbond(let amount):
                guard amount.baseUnits <= bonded else {
                    return Rejection(.insufficientBond, "operation \(index) unbonds \(amount) but only \(bonded) is bonded", head: head)
                }
                bonded -= amount.baseUnits
            case .register(let registration):
                guard bonded >= rules.minimumBond.baseUnits else {
                    return Rejection(.insufficientBond, "operation \(index) registers a candidate with \(bonded) bonded; the network needs at least \(rules.minimumBond)", head: head)
                }
                if let owner = candidateAccounts[registration.node]?.first(where: { $0 != account }) {
                    return Rejection(.notAuthorized, "operation \(index): node \(registration.node) is already the candidate of account \(owner)", head: head)
                }
            }
        }
        return nil
    }

    /// Applies a certified batch's operations (its bonds were debited with
    /// the batch). `epoch` is the certificate's epoch, so every node records
    /// the same unbonding epoch whenever it applies the certificate.
    mutating func applyOperations(_ batch: SignedBatch, epoch: UInt64) {
        let account = batch.signer
        var stake = stakes[account] ?? Stake()
        for operation in batch.batch.operations {
            switch operation {
            case .bond(let amount):
                stake.bonded &+= amount.baseUnits
            case .unbond(let amount):
                // Checked at vote time; a slash in between can only lower what is left.
                let taken = min(amount.baseUnits, stake.bonded)
                stake.bonded -= taken
                stake.unbonding &+= taken
                stake.unbondedIn = max(stake.unbondedIn, epoch)
                // A checkpoint this node adopted before it had this unbond already released it.
                if let owed = unbondingDebt[account] {
                    let repaid = min(owed, stake.unbonding)
                    stake.unbonding -= repaid
                    unbondingDebt[account] = owed == repaid ? nil : owed - repaid
                }
            case .register(let registration):
                // Always recorded, whatever other accounts claim: applying
                // certificates must not depend on their order (see
                // ``Authority/candidateAccounts``).
                if let old = stake.candidate?.node, old != registration.node {
                    candidateAccounts[old]?.remove(account)
                    if candidateAccounts[old]?.isEmpty == true { candidateAccounts[old] = nil }
                }
                stake.candidate = registration
                candidateAccounts[registration.node, default: []].insert(account)
            }
        }
        // An empty stake (a release repaid here) is forgotten, as everywhere else.
        stakes[account] = stake.isEmpty ? nil : stake
    }
}

/// A lock that a checkpoint carried into later epochs: at `seq` of the
/// account, only the batch `ids` names may become final. More than one id
/// means the device signed rival batches at one seq, and the seq stays
/// frozen. The device's resend brings the batch itself; a validator checks
/// its id against the lock.
public struct CarriedLock: Sendable, Hashable {
    public let seq: UInt64
    /// The locked batches' ids, sorted.
    public let ids: [BatchID]

    public init(seq: UInt64, ids: [BatchID]) {
        self.seq = seq
        self.ids = Array(Set(ids)).sorted()
    }

    /// Whether `id` may become final at ``seq``.
    public func admits(_ id: BatchID) -> Bool { ids == [id] }
}

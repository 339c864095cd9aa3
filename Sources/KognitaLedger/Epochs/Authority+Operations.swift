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
                if let owner = candidateAccounts[registration.node], owner != account {
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
            case .register(let registration):
                if let old = stake.candidate?.node, candidateAccounts[old] == account { candidateAccounts[old] = nil }
                // A node another account registered first stays with it (checked at vote time too).
                if candidateAccounts[registration.node] == nil || candidateAccounts[registration.node] == account {
                    stake.candidate = registration
                    candidateAccounts[registration.node] = account
                }
            }
        }
        stakes[account] = stake
    }
}

/// A lock that a checkpoint carried into later epochs: at `seq` of the
/// account, only one of `batches` may become final. More than one means the
/// device signed rival batches at one seq, and the seq stays frozen.
public struct CarriedLock: Sendable, Hashable {
    public let seq: UInt64
    /// The locked batches, each signed by the account, in id order.
    public let batches: [SignedBatch]

    public init(seq: UInt64, batches: [SignedBatch]) {
        self.seq = seq
        self.batches = batches.sorted { $0.id < $1.id }
    }
}

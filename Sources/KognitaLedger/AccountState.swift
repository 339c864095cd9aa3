import KognitaCore

/// What the ledger keeps per account: about 80 bytes.
public struct AccountState: Sendable, Hashable {
    /// The seq the account's next batch must have.
    public var nextSeq: UInt64
    /// The id of the account's last final batch (zero before the first).
    public var lastFinal: BatchID
    /// Final credits minus final debits. It can dip below zero for a moment
    /// on a node that applies a debit before a credit that preceded it
    /// elsewhere (certificates of different accounts arrive in any order; the
    /// validators that voted had seen the credit), so it is wider than an
    /// amount. It is never below zero once a node has every certificate.
    public var balance: Int128

    public init(nextSeq: UInt64 = 1, lastFinal: BatchID = .zero, balance: Int128 = 0) {
        self.nextSeq = nextSeq
        self.lastFinal = lastFinal
        self.balance = balance
    }

    /// The head as the contract shows it (a transiently negative balance shows as 0).
    public var head: AccountHead {
        AccountHead(nextSeq: nextSeq, lastFinal: lastFinal,
                    balance: Amount(balance <= 0 ? 0 : balance >= Int128(UInt64.max) ? UInt64.max : UInt64(balance)))
    }
}

/// A validator's promise, kept on disk: at `seq` of an account it votes for
/// batch `id` and no other.
public struct Lock: Sendable, Hashable {
    public let seq: UInt64
    public let id: BatchID

    public init(seq: UInt64, id: BatchID) {
        self.seq = seq
        self.id = id
    }
}

/// Why the ledger refused a batch, in the contract's terms, with the
/// account's head so the device can re-chain.
public struct Rejection: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: RejectReason
    public let detail: String
    public let head: AccountHead

    public init(_ reason: RejectReason, _ detail: String, head: AccountHead) {
        self.reason = reason
        self.detail = detail
        self.head = head
    }

    public var description: String { "\(reason): \(detail)" }
}

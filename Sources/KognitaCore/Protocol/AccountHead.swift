/// An account's head as the network sees it (Ack key 5).
public struct AccountHead: Sendable, Hashable {
    /// The seq the account's next batch must carry.
    public var nextSeq: UInt64
    /// Id of the account's last final batch (zero before its first).
    public var lastFinal: BatchID
    /// Final credits minus final debits.
    public var balance: Amount

    /// A head as reported in an ack.
    public init(nextSeq: UInt64, lastFinal: BatchID, balance: Amount) {
        self.nextSeq = nextSeq
        self.lastFinal = lastFinal
        self.balance = balance
    }
}

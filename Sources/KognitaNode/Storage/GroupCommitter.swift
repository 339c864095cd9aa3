import KognitaLedger

/// Makes ledger changes durable in groups: callers that arrive while a
/// transaction is being written wait and go together in the next one, so
/// one fsync covers many locks and certificates (SQLite's cost is the sync,
/// not the rows).
public actor GroupCommitter {
    private let store: LedgerStore
    private var pending = LedgerChanges()
    private var waiters: [CheckedContinuation<Void, any Error>] = []
    private var writing = false
    /// Transactions written, and changes merged into them (for metrics).
    public private(set) var transactions = 0
    public private(set) var submissions = 0

    public init(store: LedgerStore) { self.store = store }

    /// Returns once `changes` are on disk (with everything submitted before them).
    public func commit(_ changes: LedgerChanges) async throws {
        submissions += 1
        pending.merge(changes)
        try await withCheckedThrowingContinuation { continuation in
            waiters.append(continuation)
            if !writing {
                writing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !waiters.isEmpty {
            let group = pending, groupWaiters = waiters
            pending = LedgerChanges()
            waiters = []
            let store = self.store
            // The write blocks on fsync: off the actor, so callers can queue meanwhile.
            let result = await Task.detached { Result { try store.commit(group) } }.value
            transactions += 1
            for waiter in groupWaiters { waiter.resume(with: result) }
        }
        writing = false
    }
}

import Dispatch
import KognitaLedger
import Synchronization

/// Makes ledger changes durable in groups: changes submitted while a
/// transaction is being written go together in the next one, so one fsync
/// covers many locks and certificates (SQLite's cost is the sync, not the rows).
///
/// Submitting is synchronous, so the order of submissions is the caller's
/// order: a lock submitted after a certificate's changes is never on disk
/// without them. Waiting for durability is separate (``durable(_:)``).
public final class GroupCommitter: Sendable {
    /// A submission's place in the order; durable once the committer passes it.
    public typealias Ticket = UInt64

    private let store: LedgerStore
    private let state = Mutex(State())
    // Its own thread: the write blocks on fsync, which must not hold one of
    // the few threads Swift concurrency runs everything else on.
    private let writer = DispatchQueue(label: "kognita.group-commit")

    private struct State {
        var pending = LedgerChanges()
        var pendingTicket: Ticket = 0
        var durableTicket: Ticket = 0
        var waiters: [(Ticket, CheckedContinuation<Void, any Error>)] = []
        var writing = false
        var failure: (any Error)?
        var transactions = 0
    }

    private let onTransaction: @Sendable () -> Void

    /// `onTransaction` is called after each transaction written (for metrics).
    public init(store: LedgerStore, onTransaction: @escaping @Sendable () -> Void = {}) {
        self.store = store
        self.onTransaction = onTransaction
    }

    /// Queues `changes` after everything submitted before; returns its ticket.
    @discardableResult
    public func submit(_ changes: LedgerChanges) -> Ticket {
        let (ticket, startWriter) = state.withLock { state -> (Ticket, Bool) in
            state.pending.merge(changes)
            state.pendingTicket += 1
            let start = !state.writing
            state.writing = true
            return (state.pendingTicket, start)
        }
        if startWriter { writer.async { self.drain() } }
        return ticket
    }

    /// Returns once the submission with `ticket` (and all before it) is on
    /// disk; throws if the database failed (the node cannot go on then).
    public func durable(_ ticket: Ticket) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = state.withLock { state -> Result<Bool, any Error> in
                if let failure = state.failure { return .failure(failure) }
                if state.durableTicket >= ticket { return .success(true) }
                state.waiters.append((ticket, continuation))
                return .success(false)
            }
            switch outcome {
            case .success(true): continuation.resume()
            case .success(false): break
            case .failure(let error): continuation.resume(throwing: error)
            }
        }
    }

    /// Submits and waits.
    public func commit(_ changes: LedgerChanges) async throws { try await durable(submit(changes)) }

    /// Transactions written so far.
    public var transactions: Int { state.withLock { $0.transactions } }

    // Runs on the writer queue.
    private func drain() {
        while true {
            let next = state.withLock { state -> (LedgerChanges, Ticket)? in
                guard state.durableTicket < state.pendingTicket, state.failure == nil else {
                    state.writing = false
                    return nil
                }
                defer { state.pending = LedgerChanges() }
                return (state.pending, state.pendingTicket)
            }
            guard let (changes, ticket) = next else { return }
            let result = Result { try store.commit(changes) }
            onTransaction()
            let ready = state.withLock { state -> [(CheckedContinuation<Void, any Error>, (any Error)?)] in
                state.transactions += 1
                switch result {
                case .success: state.durableTicket = ticket
                case .failure(let error): state.failure = error
                }
                var ready: [(CheckedContinuation<Void, any Error>, (any Error)?)] = []
                state.waiters.removeAll { waiter in
                    if let failure = state.failure { ready.append((waiter.1, failure)); return true }
                    guard waiter.0 <= state.durableTicket else { return false }
                    ready.append((waiter.1, nil))
                    return true
                }
                return ready
            }
            for (continuation, error) in ready {
                if let error { continuation.resume(throwing: error) } else { continuation.resume() }
            }
        }
    }
}

import KognitaSystem

/// Where an ``MQTTClient`` puts messages and connection events for a program
/// that runs its own poll(2) loop instead of Swift concurrency (the
/// kognita-agent program; its embedded build has no async streams). The
/// client's network thread queues items and signals ``fd``; the loop polls
/// ``fd`` for reading and then calls ``take()``.
public final class MQTTInbox: @unchecked Sendable {
    // @unchecked: the queue is behind a lock; the eventfd is thread-safe.

    /// What arrived.
    public enum Item: Sendable {
        case message(MQTTMessage)
        case event(MQTTEvent)
    }

    private struct Queue {
        var items: [Item] = []
        var messages = 0
    }

    /// Messages held at most between two ``take()`` calls; more are dropped
    /// (and counted by the client), as a slow reader must not grow without bound.
    public let capacity: Int
    private let queue = Protected(Queue())
    private let signal = Wakeup()

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Readable when items are waiting.
    public var fd: Int32 { signal.fd }

    /// Queues an item (from the network thread); false when a message did not fit.
    @discardableResult
    func put(_ item: Item) -> Bool {
        let accepted = queue.withLock { q -> Bool in
            if case .message = item {
                guard q.messages < capacity else { return false }
                q.messages += 1
            }
            q.items.append(item)
            return true
        }
        if accepted { signal.signal() }
        return accepted
    }

    /// Everything waiting, oldest first.
    public func take() -> [Item] {
        signal.clear()
        return queue.withLock { q -> [Item] in
            defer { q = Queue() }
            return q.items
        }
    }
}

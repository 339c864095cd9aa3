/// The event queue of a deterministic simulation: events at simulated
/// times (ms), popped earliest first and, at one time, in the order they
/// were scheduled, so that a seed replays the same run event for event.
/// A binary min-heap.
public struct SimulatedEvents<Event> {
    struct Entry {
        let at: UInt64
        let order: UInt64
        let event: Event
        /// Written out: a tuple comparison costs a metadata lookup per call in a debug build.
        func isEarlier(than other: Entry) -> Bool { at < other.at || (at == other.at && order < other.order) }
    }

    private var heap: [Entry] = []
    private var scheduled: UInt64 = 0

    public init() {}

    public var isEmpty: Bool { heap.isEmpty }
    public var count: Int { heap.count }

    /// Adds `event` at time `at`.
    public mutating func schedule(_ event: Event, at: UInt64) {
        scheduled += 1
        heap.append(Entry(at: at, order: scheduled, event: event))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].isEarlier(than: heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest event with its time.
    public mutating func popEarliest() -> (at: UInt64, event: Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let earliest = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].isEarlier(than: heap[smallest]) { smallest = left }
            if right < heap.count, heap[right].isEarlier(than: heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (earliest.at, earliest.event)
    }
}

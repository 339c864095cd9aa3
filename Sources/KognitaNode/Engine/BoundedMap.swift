/// A dictionary that holds at most `capacity` entries and forgets the oldest
/// insertions first: for caches and for state fed by peers, which must never
/// grow without bound however the peers behave.
public struct BoundedMap<Key: Hashable, Value> {
    private var values: [Key: Value] = [:]
    private var order: [Key] = []
    private var orderStart = 0
    public let capacity: Int

    public init(capacity: Int) { self.capacity = capacity }

    public var count: Int { values.count }

    public subscript(key: Key) -> Value? {
        get { values[key] }
        set {
            guard let newValue else { values[key] = nil; return }
            if values.updateValue(newValue, forKey: key) == nil {
                order.append(key)
                evict()
            }
        }
    }

    /// Every entry, in no particular order.
    public var entries: [Key: Value] { values }

    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? { values.removeValue(forKey: key) }

    private mutating func evict() {
        // `order` may name keys removed since; they are skipped. It is
        // compacted when mostly dead, so it stays within a small factor of capacity.
        while values.count > capacity, orderStart < order.count {
            values[order[orderStart]] = nil
            orderStart += 1
        }
        if order.count > 2 * capacity + 1024 || (orderStart > 4096 && orderStart * 2 > order.count) {
            order = order[orderStart...].filter { values[$0] != nil }
            orderStart = 0
        }
    }
}
extension BoundedMap: Sendable where Key: Sendable, Value: Sendable {}

import KognitaCore

/// All of a device's rules, and their state as one snapshot for the spool.
public struct RuleBook: Sendable, Hashable {
    public private(set) var rules: [PerUnitRule]

    /// The rules, resumed from a snapshot (``snapshot()``) when one is given.
    /// A rule the snapshot does not know (newly configured) starts fresh.
    public init(_ settings: [PerUnitRule.Settings], resumingFrom snapshot: [UInt8] = []) {
        let saved = Self.decode(snapshot)
        rules = settings.map { PerUnitRule($0, state: saved[$0.id] ?? .init()) }
    }

    /// Feeds a reading to every rule watching `sensor`; returns the transfers due.
    public mutating func observe(sensor: String, _ reading: Reading, mayPay: Bool) -> [Transfer] {
        var due: [Transfer] = []
        for index in rules.indices where rules[index].settings.sensor == sensor {
            if let transfer = rules[index].observe(reading, mayPay: mayPay) { due.append(transfer) }
        }
        return due
    }

    /// The rules watching `sensor` whose last reading was read as a counter
    /// reset, with that reset.
    public func resets(of sensor: String) -> [(rule: String, reset: PerUnitRule.Reset)] {
        rules.compactMap { rule in
            guard rule.settings.sensor == sensor, let reset = rule.lastReset else { return nil }
            return (rule.settings.id, reset)
        }
    }

    /// Ids of rules that have never seen a reading (no baseline yet).
    public var rulesWithoutBaseline: Set<String> {
        Set(rules.filter { $0.state.lastCounter == nil }.map { $0.settings.id })
    }

    /// `persisted` (a snapshot already in the spool) with the current state of
    /// the rules in `ids` merged in. Used to make a new baseline durable
    /// without claiming anything about transfers still waiting in the open batch.
    public func snapshot(of ids: Set<String>, over persisted: [UInt8]) -> [UInt8] {
        var merged = RuleBook(rules.map { $0.settings }, resumingFrom: persisted)
        for index in merged.rules.indices where ids.contains(merged.rules[index].settings.id) {
            if let current = rules.first(where: { $0.settings.id == merged.rules[index].settings.id }) {
                merged.rules[index] = current
            }
        }
        return merged.snapshot()
    }

    /// The state of every rule, as deterministic CBOR: `{rule id: [last?, unpaid, hour, spent]}`.
    public func snapshot() -> [UInt8] {
        var entries: [CBORValue.MapEntry] = []
        for rule in rules {
            let s = rule.state
            entries.append(.init(.text(rule.settings.id), .array([
                s.lastCounter.map { .int($0) } ?? .array([]), .unsigned(s.unpaid), .unsigned(s.hour), .unsigned(s.spentThisHour),
            ])))
        }
        return (try? CBORValue.map(entries).encoded()) ?? []
    }

    static func decode(_ snapshot: [UInt8]) -> [String: PerUnitRule.State] {
        guard !snapshot.isEmpty, case .map(let entries)? = try? CBORValue(decoding: snapshot) else { return [:] }
        var states: [String: PerUnitRule.State] = [:]
        for entry in entries {
            guard case .text(let id) = entry.key, case .array(let f) = entry.value, f.count == 4,
                  case .unsigned(let unpaid) = f[1], case .unsigned(let hour) = f[2], case .unsigned(let spent) = f[3] else { continue }
            let last: Int64? = switch f[0] {
            case .unsigned(let v) where v <= UInt64(Int64.max): Int64(v)
            case .negative(let v) where v < UInt64(Int64.max): -1 - Int64(v)
            default: nil
            }
            states[id] = PerUnitRule.State(lastCounter: last, unpaid: unpaid, hour: hour, spentThisHour: spent)
        }
        return states
    }
}

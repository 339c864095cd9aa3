import KognitaCore

/// Checks one device's final transfers against its meters: every unit a
/// meter counted between its first and its last paid reading is paid once.
///
/// The devnet's real agents read simulated meters that keep counting across
/// restarts (`started_at_ms`), pay 1 base unit per unit (`every = 1`,
/// `price = 1`) and carry the fraction of a unit over. A payment at reading
/// r (milli-units) then brings the total paid to floor((r - r0) / 1000) for
/// the meter's first reading r0, so the payments after a meter's first one
/// add up to the units between the first and the last paid reading, or one
/// more (r0's fraction is not known). A transfer missing in between (lost)
/// makes the sum short; one paid twice makes it long. A SIGKILLed agent loses
/// its open batch, and its rules resume from the state in the spool, so the
/// next payment covers those units again: the audit holds across kills.
struct MeterAudit: Sendable, Equatable {
    /// Units counted between each meter's first and last paid readings, summed over its meters.
    var expectedUnits: UInt64 = 0
    /// Paid by the transfers after each meter's first.
    var paidUnits: UInt64 = 0
    /// Units counted and not paid (some transfer is missing).
    var unpaidUnits: UInt64 = 0
    /// Units paid beyond what was counted, less the one the unknown start allows.
    var overpaidUnits: UInt64 = 0

    init(_ transfers: [Transfer]) {
        let metered = Set(transfers).filter { $0.sensor != nil && $0.reading != nil }
        for (_, payments) in Dictionary(grouping: metered, by: { $0.sensor! }) {
            let sorted = payments.sorted { $0.reading! < $1.reading! }
            guard let first = sorted.first?.reading, let last = sorted.last?.reading, sorted.count > 1 else { continue }
            let expected = UInt64(max(0, (last - first) / 1000))
            let paid = sorted.dropFirst().reduce(UInt64(0)) { $0 + $1.amount.baseUnits }
            expectedUnits += expected
            paidUnits += paid
            if paid < expected { unpaidUnits += expected - paid }
            if paid > expected + 1 { overpaidUnits += paid - expected - 1 }
        }
    }
}

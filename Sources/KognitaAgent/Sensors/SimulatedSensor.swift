/// A deterministic counter for tests and the devnet: it has consumed
/// `unitsPerSecond` units every second since `startedAt`, so the reading at a
/// given time is always the same (which makes crash tests reproducible).
public struct SimulatedSensor: Sensor {
    public let id: String
    public let pollIntervalMilliseconds: UInt64
    /// Consumption rate, in milli-units per second.
    public let milliUnitsPerSecond: Int64
    /// When the counter was at zero, ms since the Unix epoch.
    public let startedAt: UInt64

    public init(id: String, milliUnitsPerSecond: Int64, startedAt: UInt64, pollIntervalMilliseconds: UInt64 = 1000) {
        self.id = id
        self.milliUnitsPerSecond = milliUnitsPerSecond
        self.startedAt = startedAt
        self.pollIntervalMilliseconds = pollIntervalMilliseconds
    }

    public func read(now: UInt64) throws(SensorError) -> Reading {
        let elapsed = now >= startedAt ? now - startedAt : 0
        let (product, overflow) = Int64(clamping: elapsed).multipliedReportingOverflow(by: milliUnitsPerSecond)
        guard !overflow else { throw SensorError("simulated sensor \(id) overflowed its counter") }
        return Reading(milliUnits: product / 1000, at: now)
    }
}

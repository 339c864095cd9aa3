/// One measurement: a value in milli-units (value x 1000, as the contract
/// carries readings) and when it was taken, ms since the Unix epoch.
public struct Reading: Sendable, Hashable {
    public var milliUnits: Int64
    public var at: UInt64

    public init(milliUnits: Int64, at: UInt64) {
        self.milliUnits = milliUnits
        self.at = at
    }
}

/// A source of readings. New kinds (Modbus, GPIO pulse counters, ...) conform
/// to this and are registered in ``SensorConfiguration``; nothing else changes.
public protocol Sensor: Sendable {
    /// The id carried in each transfer's `sensor` field (at most 64 bytes).
    var id: String { get }
    /// How often the agent asks for a reading, in milliseconds.
    var pollIntervalMilliseconds: UInt64 { get }
    /// Takes a reading at `now` (ms since the Unix epoch).
    func read(now: UInt64) throws(SensorError) -> Reading
}

/// A sensor could not be read; the description says which and why.
public struct SensorError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

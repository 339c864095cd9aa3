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
/// to this, get a case in ``AnySensor`` and are registered in
/// ``SensorConfiguration``; nothing else changes.
public protocol Sensor: Sendable {
    /// The id carried in each transfer's `sensor` field (at most 64 bytes).
    var id: String { get }
    /// How often the agent asks for a reading, in milliseconds.
    var pollIntervalMilliseconds: UInt64 { get }
    /// Takes a reading at `now` (ms since the Unix epoch).
    func read(now: UInt64) throws(SensorError) -> Reading
}

/// Any of the agent's sensor kinds, as one concrete type. The embedded build
/// of the agent has no protocol existentials (`any Sensor`), and a closed set
/// lets the compiler check that every kind is handled.
public enum AnySensor: Sensor {
    case file(FileSensor)
    case simulated(SimulatedSensor)

    public var id: String {
        switch self {
        case .file(let sensor): sensor.id
        case .simulated(let sensor): sensor.id
        }
    }

    public var pollIntervalMilliseconds: UInt64 {
        switch self {
        case .file(let sensor): sensor.pollIntervalMilliseconds
        case .simulated(let sensor): sensor.pollIntervalMilliseconds
        }
    }

    public func read(now: UInt64) throws(SensorError) -> Reading {
        switch self {
        case .file(let sensor): try sensor.read(now: now)
        case .simulated(let sensor): try sensor.read(now: now)
        }
    }
}

/// A sensor could not be read; the description says which and why.
public struct SensorError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

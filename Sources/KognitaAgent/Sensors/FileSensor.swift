import KognitaSystem

/// Polls a number from a file, as Linux exposes sensors: sysfs, IIO
/// (`/sys/bus/iio/devices/iio:device0/in_temp_input`), hwmon, thermal zones.
/// The file holds an integer or decimal (whitespace around it is ignored);
/// the reading is that number x `scale`, in milli-units.
public struct FileSensor: Sensor {
    public let id: String
    public let path: String
    /// Multiplier from the file's number to the rule's unit (for example
    /// 0.001 for a thermal zone in millidegrees read in degrees).
    public let scale: Double
    public let pollIntervalMilliseconds: UInt64

    public init(id: String, path: String, scale: Double = 1, pollIntervalMilliseconds: UInt64 = 1000) {
        self.id = id
        self.path = path
        self.scale = scale
        self.pollIntervalMilliseconds = pollIntervalMilliseconds
    }

    public func read(now: UInt64) throws(SensorError) -> Reading {
        let bytes: [UInt8]
        do throws(FileError) { bytes = try FileIO.readSpecial(path, maxBytes: 256) } catch {
            throw SensorError("sensor \(id): \(error)")
        }
        let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        guard let value = Self.parse(text) else {
            throw SensorError("sensor \(id): \(path) holds '\(text.prefix(40))', not a number")
        }
        let milli = (value * scale * 1000).rounded()
        guard milli.isFinite, milli > Double(Int64.min), milli < Double(Int64.max) else {
            throw SensorError("sensor \(id): reading \(text) x scale \(scale) is out of range")
        }
        return Reading(milliUnits: Int64(milli), at: now)
    }

    /// A plain decimal: optional sign, digits, optional fraction. No exponents,
    /// no "nan" or "inf" (which a broken driver could produce).
    static func parse(_ text: String) -> Double? {
        var body = Substring(text)
        if body.first == "-" || body.first == "+" { body = body.dropFirst() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty || parts.count == 2,
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              parts.contains(where: { !$0.isEmpty }) else { return nil }
        return Double(text)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}

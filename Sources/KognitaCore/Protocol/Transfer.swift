/// One payment inside a batch (contract: Transfer map).
public struct Transfer: Sendable, Hashable {
    /// The recipient account (key 0).
    public var to: AccountID
    /// How much, at least 1 base unit (key 1).
    public var amount: Amount
    /// Optional id of the sensor or rule that triggered it, at most 64 UTF-8 bytes (key 2).
    public var sensor: String?
    /// Optional reading that triggered it, in milli-units (value x 1000) (key 3).
    public var reading: Int64?
    /// Optional time it was triggered, milliseconds since the Unix epoch (key 4).
    public var at: UInt64?

    /// A transfer; ``validate(field:)`` checks the contract's rules.
    public init(to: AccountID, amount: Amount, sensor: String? = nil, reading: Int64? = nil, at: UInt64? = nil) {
        self.to = to
        self.amount = amount
        self.sensor = sensor
        self.reading = reading
        self.at = at
    }

    /// Checks the contract's rules for one transfer; `field` names it in errors.
    public func validate(field: @autoclosure () -> String = "transfer") throws(ProtocolError) {
        guard amount.baseUnits >= 1 else { throw .malformed("\(field()).amount", "amount must be at least 1 base unit") }
        if let sensor, sensor.utf8.count > ProtocolLimits.maxSensorBytes {
            throw .malformed("\(field()).sensor", "sensor id is \(sensor.utf8.count) bytes; the limit is \(ProtocolLimits.maxSensorBytes)")
        }
    }

    /// Bytes this transfer takes in an encoded batch (for closing batches
    /// before they pass the size limit).
    public var encodedSize: Int {
        var writer = CBORWriter(reservingCapacity: 128)
        write(to: &writer)
        return writer.bytes.count
    }

    func write(to writer: inout CBORWriter) {
        writer.writeMapHeader(2 + (sensor == nil ? 0 : 1) + (reading == nil ? 0 : 1) + (at == nil ? 0 : 1))
        writer.writeUnsigned(0); writer.writeBytes(to.rawValue)
        writer.writeUnsigned(1); writer.writeUnsigned(amount.baseUnits)
        if let sensor { writer.writeUnsigned(2); writer.writeText(sensor) }
        if let reading { writer.writeUnsigned(3); writer.writeInt64(reading) }
        if let at { writer.writeUnsigned(4); writer.writeUnsigned(at) }
    }

    /// Reads one transfer and appends it to `list` (constructing it in place
    /// there avoids a copy of each transfer on the hot decoding path).
    static func read(from reader: inout FieldReader, index: Int, into list: inout [Transfer]) throws(ProtocolError) {
        func path(_ name: String) -> String { "batch.transfers[\(index)]\(name)" }
        let count = try reader.mapHeader(path(""))
        var previous: UInt64? = nil
        var to: Bytes32?, amount: UInt64?, sensor: String?, reading: Int64?, at: UInt64?
        for _ in 0..<count {
            switch try reader.key(after: &previous, path("")) {
            case 0: to = try reader.bytes32(path(".to"))
            case 1: amount = try reader.unsigned(path(".amount"))
            case 2: sensor = try reader.text(maxBytes: ProtocolLimits.maxSensorBytes, path(".sensor"))
            case 3: reading = try reader.int64(path(".reading"))
            case 4: at = try reader.unsigned(path(".at"))
            case let key: throw .malformed(path(""), "unknown key \(key) (a version-1 transfer has keys 0-4)")
            }
        }
        // The value rules (amount >= 1, ...) are checked once for the whole batch by Batch.validate().
        list.append(Transfer(
            to: AccountID(try require(to, path(".to"), key: 0)),
            amount: Amount(try require(amount, path(".amount"), key: 1)),
            sensor: sensor, reading: reading, at: at))
    }
}

/// Any deterministically encoded CBOR item, as a tree (any tag, any key type:
/// the contract's narrower rules are applied by the schema types). Used where
/// the shape is not fixed (tools, tests, COSE headers); schema types read
/// fields with ``CBORReader`` directly, which is faster and allocates less.
public indirect enum CBORValue: Sendable, Hashable {
    /// An unsigned integer (major type 0).
    case unsigned(UInt64)
    /// The negative integer `-1 - n`, for `n` in `UInt64`.
    case negative(UInt64)
    /// A byte string.
    case bytes([UInt8])
    /// A UTF-8 text string.
    case text(String)
    /// An array.
    case array([CBORValue])
    /// Entries in any order; ``encoded()`` sorts them deterministically.
    case map([MapEntry])
    /// A tagged item.
    case tagged(UInt64, CBORValue)

    /// One key/value pair of a map.
    public struct MapEntry: Sendable, Hashable {
        /// The key.
        public var key: CBORValue
        /// The value.
        public var value: CBORValue
        /// A key/value pair.
        public init(_ key: CBORValue, _ value: CBORValue) { self.key = key; self.value = value }
    }

    /// A signed integer value.
    public static func int(_ value: Int64) -> CBORValue {
        value >= 0 ? .unsigned(UInt64(value)) : .negative(UInt64(-1 - value))
    }

    /// Decodes exactly one item from `bytes`, refusing trailing bytes and
    /// anything deterministic CBOR forbids.
    public init(decoding bytes: [UInt8], limits: CBORLimits = .default) throws(CBORError) {
        var reader = try CBORReader(bytes, limits: limits)
        self = try Self.read(from: &reader, depth: 0)
        try reader.expectEnd()
    }

    /// Reads one item from `reader`.
    public static func read(from reader: inout CBORReader, depth: Int) throws(CBORError) -> CBORValue {
        let start = reader.offset
        if depth >= reader.limits.maxDepth { throw CBORError(.tooDeep(limit: reader.limits.maxDepth), at: start) }
        switch try reader.peekMajorType() {
        case .unsigned:
            return .unsigned(try reader.readUnsigned())
        case .negative:
            return .negative(try reader.readHead().argument)
        case .byteString:
            return .bytes(try reader.readByteString())
        case .textString:
            return .text(try reader.readText())
        case .array:
            let count = try reader.readArrayHeader()
            var items: [CBORValue] = []
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try read(from: &reader, depth: depth + 1)) }
            return .array(items)
        case .map:
            let count = try reader.readMapHeader()
            var entries: [MapEntry] = []
            entries.reserveCapacity(count)
            var previousKey: Range<Int>? = nil
            for _ in 0..<count {
                let keyStart = reader.offset
                let key = try read(from: &reader, depth: depth + 1)
                let keyRange = keyStart..<reader.offset
                if let previousKey {
                    let ordered = reader.bytes[previousKey].lexicographicallyPrecedes(reader.bytes[keyRange])
                    if !ordered {
                        let duplicate = reader.bytes[previousKey].elementsEqual(reader.bytes[keyRange])
                        throw CBORError(duplicate ? .duplicateMapKey : .unsortedMapKeys, at: keyStart)
                    }
                }
                previousKey = keyRange
                entries.append(MapEntry(key, try read(from: &reader, depth: depth + 1)))
            }
            return .map(entries)
        case .tag:
            let tag = try reader.readTag()
            return .tagged(tag, try read(from: &reader, depth: depth + 1))
        case .simpleOrFloat:
            _ = try reader.readHead() // throws floatOrSimpleValue with the offset
            preconditionFailure("unreachable: readHead refuses major type 7")
        }
    }

    /// The deterministic encoding: shortest heads, definite lengths, map keys
    /// sorted bytewise by their encodings. Throws on duplicate map keys.
    public func encoded() throws(CBORError) -> [UInt8] {
        var writer = CBORWriter()
        try write(to: &writer)
        return writer.bytes
    }

    /// Appends the deterministic encoding to `writer`.
    public func write(to writer: inout CBORWriter) throws(CBORError) {
        switch self {
        case .unsigned(let n): writer.writeHead(.unsigned, n)
        case .negative(let n): writer.writeHead(.negative, n)
        case .bytes(let b): writer.writeBytes(b)
        case .text(let t): writer.writeText(t)
        case .array(let items):
            writer.writeArrayHeader(items.count)
            for item in items { try item.write(to: &writer) }
        case .map(let entries):
            var encoded: [(key: [UInt8], value: [UInt8])] = []
            encoded.reserveCapacity(entries.count)
            for entry in entries { encoded.append((try entry.key.encoded(), try entry.value.encoded())) }
            encoded.sort { $0.key.lexicographicallyPrecedes($1.key) }
            for i in encoded.indices.dropFirst() where encoded[i].key == encoded[i - 1].key {
                throw CBORError(.duplicateMapKey, at: writer.bytes.count)
            }
            writer.writeMapHeader(encoded.count)
            for (key, value) in encoded { writer.writeEncoded(key); writer.writeEncoded(value) }
        case .tagged(let tag, let value):
            writer.writeTag(tag)
            try value.write(to: &writer)
        }
    }

    /// The value for an unsigned-integer key, if this is a map that has it.
    public subscript(key: UInt64) -> CBORValue? {
        guard case .map(let entries) = self else { return nil }
        return entries.first { $0.key == .unsigned(key) }?.value
    }
}

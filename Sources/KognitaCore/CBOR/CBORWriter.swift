/// Writes deterministic CBOR: shortest heads, definite lengths. Callers write
/// map keys in ascending order (``CBORValue`` sorts them for generic maps).
public struct CBORWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Starts an empty output, optionally reserving capacity.
    public init(reservingCapacity capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Writes an item head in its shortest form.
    public mutating func writeHead(_ major: CBORMajorType, _ argument: UInt64) {
        let m = major.rawValue << 5
        switch argument {
        case 0...23:
            bytes.append(m | UInt8(argument))
        case 24...0xff:
            bytes.append(m | 24); bytes.append(UInt8(argument))
        case 0x100...0xffff:
            bytes.append(m | 25)
            appendBigEndian(argument, width: 2)
        case 0x1_0000...0xffff_ffff:
            bytes.append(m | 26)
            appendBigEndian(argument, width: 4)
        default:
            bytes.append(m | 27)
            appendBigEndian(argument, width: 8)
        }
    }

    private mutating func appendBigEndian(_ value: UInt64, width: Int) {
        for shift in stride(from: (width - 1) * 8, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// Writes an unsigned integer.
    public mutating func writeUnsigned(_ value: UInt64) { writeHead(.unsigned, value) }

    /// Writes a signed integer (major type 0 or 1).
    public mutating func writeInt64(_ value: Int64) {
        if value >= 0 { writeHead(.unsigned, UInt64(value)) } else { writeHead(.negative, UInt64(-1 - value)) }
    }

    /// Writes a byte string.
    public mutating func writeBytes<Bytes: Collection<UInt8>>(_ value: Bytes) {
        writeHead(.byteString, UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// Writes a 32-byte string.
    public mutating func writeBytes(_ value: Bytes32) {
        writeHead(.byteString, 32)
        value.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    /// Writes a text string.
    public mutating func writeText(_ value: String) {
        writeHead(.textString, UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// Writes an array header; the caller then writes `count` items.
    public mutating func writeArrayHeader(_ count: Int) { writeHead(.array, UInt64(count)) }

    /// Writes a map header; the caller then writes `count` key/value pairs, keys ascending.
    public mutating func writeMapHeader(_ count: Int) { writeHead(.map, UInt64(count)) }

    /// Writes a tag number; the caller then writes the tagged item.
    public mutating func writeTag(_ tag: UInt64) { writeHead(.tag, tag) }

    /// Appends bytes that already are one or more encoded items.
    public mutating func writeEncoded<Bytes: Sequence<UInt8>>(_ encoded: Bytes) { bytes.append(contentsOf: encoded) }
}

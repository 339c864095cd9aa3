/// A strict reader of deterministic CBOR (RFC 8949 section
/// 4.2.1 as the contract restricts it).
///
/// It refuses, with the byte offset: truncation, non-shortest integers and
/// lengths, indefinite lengths, reserved additional information, floats and
/// simple values, invalid UTF-8, and lengths that exceed the input or the
/// limits. Schema code reads a value field by field and checks map key order
/// with ``readMapKey(after:)``; ``CBORValue`` decodes arbitrary items.
public struct CBORReader: Sendable {
    /// The whole input.
    public let bytes: [UInt8]
    /// Offset of the next unread byte.
    public private(set) var offset: Int
    /// The limits in force.
    public let limits: CBORLimits

    /// Starts reading `bytes`; throws if the input is larger than `limits` allow.
    public init(_ bytes: [UInt8], limits: CBORLimits = .default) throws(CBORError) {
        guard bytes.count <= limits.maxInputSize else {
            throw CBORError(.inputTooLarge(limit: limits.maxInputSize, actual: bytes.count), at: 0)
        }
        self.bytes = bytes
        self.offset = 0
        self.limits = limits
    }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { offset == bytes.count }

    /// Throws unless every byte has been read.
    public func expectEnd() throws(CBORError) {
        guard isAtEnd else { throw CBORError(.trailingBytes(count: bytes.count - offset), at: offset) }
    }

    /// The major type of the next item, without consuming it.
    public func peekMajorType() throws(CBORError) -> CBORMajorType {
        guard offset < bytes.count else { throw CBORError(.truncated, at: offset) }
        return CBORMajorType.byHighBits[Int(bytes[offset] >> 5)]
    }

    /// Reads an item head: major type and argument, enforcing the shortest form.
    @inline(__always)
    public mutating func readHead() throws(CBORError) -> (major: CBORMajorType, argument: UInt64, start: Int) {
        let start = offset
        guard offset < bytes.count else { throw CBORError(.truncated, at: start) }
        let initial = bytes[offset]
        let major = CBORMajorType.byHighBits[Int(initial >> 5)]
        let info = initial & 0x1f
        offset += 1
        if major == .simpleOrFloat { throw CBORError(.floatOrSimpleValue, at: start) }
        let argument: UInt64
        switch info {
        case 0...23:
            argument = UInt64(info)
        case 24...27:
            let width = 1 << Int(info - 24)
            guard bytes.count - offset >= width else { throw CBORError(.truncated, at: start) }
            var value: UInt64 = 0
            for i in 0..<width { value = value << 8 | UInt64(bytes[offset + i]) }
            offset += width
            // Shortest form: the value must not fit in the next smaller width.
            let minimum: UInt64 = switch width { case 1: 24; case 2: 0x100; case 4: 0x1_0000; default: 0x1_0000_0000 }
            guard value >= minimum else { throw CBORError(.nonShortestEncoding, at: start) }
            argument = value
        case 31:
            throw CBORError(.indefiniteLength, at: start)
        default:
            throw CBORError(.reservedAdditionalInformation(info), at: start)
        }
        return (major, argument, start)
    }

    @inline(__always)
    private mutating func readHead(expecting expected: CBORMajorType) throws(CBORError) -> (argument: UInt64, start: Int) {
        let head = try readHead()
        guard head.major == expected else {
            throw CBORError(.unexpectedType(expected: expected.description, found: head.major.description), at: head.start)
        }
        return (head.argument, head.start)
    }

    /// Reads an unsigned integer (major type 0).
    @inline(__always)
    public mutating func readUnsigned() throws(CBORError) -> UInt64 {
        // Fast path: 0-23 is one byte, by far the commonest case (map keys).
        if offset < bytes.count, bytes[offset] < 0x18 {
            defer { offset += 1 }
            return UInt64(bytes[offset])
        }
        return try readHead(expecting: .unsigned).argument
    }

    /// Reads an integer of major type 0 or 1 that fits in `Int64`.
    public mutating func readInt64() throws(CBORError) -> Int64 {
        let head = try readHead()
        switch head.major {
        case .unsigned:
            guard head.argument <= UInt64(Int64.max) else {
                throw CBORError(.integerOutOfRange("-2^63 to 2^63-1"), at: head.start)
            }
            return Int64(head.argument)
        case .negative:
            guard head.argument <= UInt64(Int64.max) else {
                throw CBORError(.integerOutOfRange("-2^63 to 2^63-1"), at: head.start)
            }
            return -1 - Int64(head.argument)
        default:
            throw CBORError(.unexpectedType(expected: "an integer", found: head.major.description), at: head.start)
        }
    }

    /// Reads a length argument and checks it against the remaining input.
    @inline(__always)
    private mutating func readStringRange(_ major: CBORMajorType) throws(CBORError) -> Range<Int> {
        let (length, start) = try readHead(expecting: major)
        guard length <= UInt64(bytes.count - offset) else { throw CBORError(.truncated, at: start) }
        let range = offset..<(offset + Int(length))
        offset = range.upperBound
        return range
    }

    /// Reads a byte string and returns where its content lies in ``bytes``.
    public mutating func readByteStringRange() throws(CBORError) -> Range<Int> {
        try readStringRange(.byteString)
    }

    /// Reads a byte string and returns a copy of its content.
    public mutating func readByteString() throws(CBORError) -> [UInt8] {
        Array(bytes[try readByteStringRange()])
    }

    /// Reads a byte string that must be exactly 32 bytes long.
    public mutating func readBytes32() throws(CBORError) -> Bytes32 {
        let start = offset
        let range = try readByteStringRange()
        guard range.count == 32 else {
            throw CBORError(.unexpectedType(expected: "a 32-byte string", found: "\(range.count) bytes"), at: start)
        }
        return Bytes32(bytes, range: range)
    }

    /// Reads a text string, checking that it is valid UTF-8 and at most
    /// `maxBytes` long.
    public mutating func readText(maxBytes: Int = .max) throws(CBORError) -> String {
        let start = offset
        let range = try readStringRange(.textString)
        guard range.count <= maxBytes else {
            throw CBORError(.tooLong(limit: maxBytes, actual: UInt64(range.count)), at: start)
        }
        return try bytes.withUnsafeBufferPointer { (buffer) throws(CBORError) -> String in
            let slice = UnsafeBufferPointer(rebasing: buffer[range])
            guard UTF8Validation.isValid(slice) else { throw CBORError(.invalidUTF8, at: start) }
            return String(decoding: slice, as: UTF8.self)
        }
    }

    /// Reads an array header and returns its element count (at most `maxCount`).
    public mutating func readArrayHeader(maxCount: Int? = nil) throws(CBORError) -> Int {
        let (count, start) = try readHead(expecting: .array)
        return try checkedCount(count, limit: maxCount, at: start)
    }

    /// Reads a map header and returns its entry count (at most `maxCount`).
    public mutating func readMapHeader(maxCount: Int? = nil) throws(CBORError) -> Int {
        let (count, start) = try readHead(expecting: .map)
        return try checkedCount(count, limit: maxCount, at: start)
    }

    private func checkedCount(_ count: UInt64, limit: Int?, at start: Int) throws(CBORError) -> Int {
        let limit = min(limit ?? limits.maxItemCount, limits.maxItemCount)
        guard count <= UInt64(limit) else { throw CBORError(.tooLong(limit: limit, actual: count), at: start) }
        // Every element takes at least one byte: a count beyond the remaining
        // input is truncation, caught before anyone reserves memory for it.
        guard count <= UInt64(bytes.count - offset) else { throw CBORError(.truncated, at: start) }
        return Int(count)
    }

    /// Reads a tag number (major type 6).
    public mutating func readTag() throws(CBORError) -> UInt64 {
        try readHead(expecting: .tag).argument
    }

    /// Reads the key of a map whose keys are small unsigned integers and checks
    /// that it sorts after `previous` (which it then updates).
    ///
    /// For unsigned keys, bytewise order of the shortest encodings is numeric
    /// order, so "greater than the previous key" is exactly the deterministic
    /// CBOR rule, and "equal" is a duplicate.
    public mutating func readMapKey(after previous: inout UInt64?) throws(CBORError) -> UInt64 {
        let start = offset
        let key = try readUnsigned()
        if let previous {
            if key == previous { throw CBORError(.duplicateMapKey, at: start) }
            if key < previous { throw CBORError(.unsortedMapKeys, at: start) }
        }
        previous = key
        return key
    }

    /// Skips one item, without allocating, as the contract allows it inside
    /// its maps: every deterministic-encoding rule, no tags, and map keys that
    /// are small unsigned integers (0-23) in ascending order.
    public mutating func skipContractItem(depth: Int = 0) throws(CBORError) {
        let start = offset
        guard depth < limits.maxDepth else { throw CBORError(.tooDeep(limit: limits.maxDepth), at: start) }
        switch try peekMajorType() {
        case .unsigned, .negative, .simpleOrFloat:
            _ = try readHead() // refuses floats and simple values
        case .byteString:
            _ = try readByteStringRange()
        case .textString:
            let range = try readStringRange(.textString)
            let valid = bytes.withUnsafeBufferPointer { UTF8Validation.isValid(UnsafeBufferPointer(rebasing: $0[range])) }
            guard valid else { throw CBORError(.invalidUTF8, at: start) }
        case .array:
            for _ in 0..<(try readArrayHeader()) { try skipContractItem(depth: depth + 1) }
        case .map:
            var previous: UInt64? = nil
            for _ in 0..<(try readMapHeader()) {
                let keyStart = offset
                guard try readMapKey(after: &previous) <= 23 else {
                    throw CBORError(.integerOutOfRange("map keys of the contract are 0-23"), at: keyStart)
                }
                try skipContractItem(depth: depth + 1)
            }
        case .tag:
            throw CBORError(.unexpectedTag(try readTag()), at: start)
        }
    }
}

/// Why a CBOR input was refused, and at which byte.
public struct CBORError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public enum Kind: Sendable, Hashable {
        /// The input ended inside an item.
        case truncated
        /// Bytes follow the top-level item.
        case trailingBytes(count: Int)
        /// An integer or length was not in its shortest form.
        case nonShortestEncoding
        /// An indefinite-length string, array or map.
        case indefiniteLength
        /// Additional information 28-30, which RFC 8949 reserves.
        case reservedAdditionalInformation(UInt8)
        /// A float, or a simple value such as true, false or null: the contract uses none.
        case floatOrSimpleValue
        /// Found one CBOR type where another was required.
        case unexpectedType(expected: String, found: String)
        /// A text string that is not valid UTF-8.
        case invalidUTF8
        /// Map keys out of bytewise order of their encodings.
        case unsortedMapKeys
        /// The same key twice in one map.
        case duplicateMapKey
        /// A tag the contract does not allow here.
        case unexpectedTag(UInt64)
        /// Nesting deeper than the limit.
        case tooDeep(limit: Int)
        /// A string, array or map longer than the limit.
        case tooLong(limit: Int, actual: UInt64)
        /// The whole input is larger than the limit.
        case inputTooLarge(limit: Int, actual: Int)
        /// An integer outside the range the field can hold.
        case integerOutOfRange(String)
    }

    /// What was wrong.
    public let kind: Kind
    /// Byte offset of the offending item in the input.
    public let offset: Int

    /// A failure of `kind` at byte `offset`.
    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String {
        let what: String = switch kind {
        case .truncated: "input ends in the middle of an item"
        case .trailingBytes(let n): "\(n) unexpected byte\(n == 1 ? "" : "s") after the end of the item"
        case .nonShortestEncoding: "integer or length not in its shortest form (deterministic CBOR requires it)"
        case .indefiniteLength: "indefinite-length item (deterministic CBOR requires definite lengths)"
        case .reservedAdditionalInformation(let ai): "reserved additional information \(ai)"
        case .floatOrSimpleValue: "float or simple value (true/false/null): not allowed"
        case .unexpectedType(let expected, let found): "expected \(expected), found \(found)"
        case .invalidUTF8: "text string is not valid UTF-8"
        case .unsortedMapKeys: "map keys not sorted bytewise by their encoding"
        case .duplicateMapKey: "duplicate map key"
        case .unexpectedTag(let tag): "tag \(tag) is not allowed here"
        case .tooDeep(let limit): "nesting deeper than \(limit) levels"
        case .tooLong(let limit, let actual): "length \(actual) exceeds the limit of \(limit)"
        case .inputTooLarge(let limit, let actual): "input is \(actual) bytes; the limit is \(limit)"
        case .integerOutOfRange(let range): "integer out of range (\(range))"
        }
        return "\(what) at byte \(offset)"
    }
}

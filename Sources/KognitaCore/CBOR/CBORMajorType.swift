/// The eight CBOR major types (RFC 8949 section 3.1).
public enum CBORMajorType: UInt8, Sendable, CustomStringConvertible {
    case unsigned = 0, negative, byteString, textString, array, map, tag, simpleOrFloat

    /// The type for each value of an initial byte's top three bits; a table
    /// lookup because `init(rawValue:)` was measurably slower on the hot path.
    static let byHighBits: [CBORMajorType] = [.unsigned, .negative, .byteString, .textString, .array, .map, .tag, .simpleOrFloat]

    public var description: String {
        switch self {
        case .unsigned: "an unsigned integer"
        case .negative: "a negative integer"
        case .byteString: "a byte string"
        case .textString: "a text string"
        case .array: "an array"
        case .map: "a map"
        case .tag: "a tag"
        case .simpleOrFloat: "a float or simple value"
        }
    }
}

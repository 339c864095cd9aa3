/// A network id: 1 to 32 characters of `[a-z0-9-]`, such as `kognita-devnet`.
public struct NetworkID: Sendable, Hashable, CustomStringConvertible {
    /// Longest network id, in characters.
    public static let maxLength = 32

    /// The id text.
    public let rawValue: String

    /// Validates `rawValue`; the error message says which rule it breaks.
    public init(_ rawValue: String, field: String = "network") throws(ProtocolError) {
        let utf8 = rawValue.utf8
        guard !utf8.isEmpty else { throw .malformed(field, "network id is empty; use 1-32 characters of a-z, 0-9 and '-'") }
        guard utf8.count <= Self.maxLength else {
            throw .malformed(field, "network id is \(utf8.count) characters; the limit is \(Self.maxLength)")
        }
        for byte in utf8 where !Self.isAllowed(byte) {
            throw .malformed(field, "network id \"\(rawValue)\" has a character other than a-z, 0-9 and '-'")
        }
        self.rawValue = rawValue
    }

    @inline(__always)
    private static func isAllowed(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "-")
    }

    public var description: String { rawValue }
}

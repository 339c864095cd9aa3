/// A batch id: BLAKE2b-256 of the exact payload bytes.
public struct BatchID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 32 hash bytes.
    public let rawValue: Bytes32

    /// Wraps 32 bytes known to be a batch id.
    public init(_ rawValue: Bytes32) { self.rawValue = rawValue }

    /// The id of a payload.
    public init<Payload: ContiguousByteStorage>(payload: Payload) { rawValue = BLAKE2b256.hash(payload) }

    /// Parses 64 hex characters.
    public init(hex: String) throws(HexError) { rawValue = try Bytes32(hex: hex) }

    /// The `prev` of an account's first batch: 32 zero bytes.
    public static let zero = BatchID(.zero)

    /// 64 lowercase hex characters.
    public var hex: String { rawValue.hex }
    public var description: String { rawValue.hex }
    public static func < (l: BatchID, r: BatchID) -> Bool { l.rawValue < r.rawValue }
}

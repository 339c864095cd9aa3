/// Exactly 32 bytes, stored inline (no heap allocation), hashable and cheap to
/// compare: the shape of public keys, batch ids and hashes.
public struct Bytes32: Sendable, Hashable, Comparable {
    // Four words in memory order; equality and hashing work on words, and the
    // byte view is the raw memory, so there is no endianness conversion.
    private var storage: (UInt64, UInt64, UInt64, UInt64)

    /// 32 zero bytes.
    public static let zero = Bytes32(uncheckedStorage: (0, 0, 0, 0))

    private init(uncheckedStorage: (UInt64, UInt64, UInt64, UInt64)) {
        storage = uncheckedStorage
    }

    /// Copies 32 bytes; throws ``LengthError`` when `bytes` is not exactly 32 long.
    public init<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(LengthError) {
        guard bytes.count == 32 else { throw LengthError(expected: 32, actual: bytes.count) }
        self = .zero
        withUnsafeMutableBytes { target in
            var index = 0
            for byte in bytes { target[index] = byte; index += 1 }
        }
    }

    /// Copies 32 bytes from `bytes[range]`, which the caller has checked is 32 long.
    @usableFromInline
    init(_ bytes: [UInt8], range: Range<Int>) {
        precondition(range.count == 32)
        self = .zero
        withUnsafeMutableBytes { target in
            bytes.withUnsafeBytes { source in
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[range]))
            }
        }
    }

    /// Gives read access to the 32 bytes.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var copy = storage
        return try Swift.withUnsafeBytes(of: &copy) { (buffer) throws(E) -> R in try body(buffer) }
    }

    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        Swift.withUnsafeMutableBytes(of: &storage, body)
    }

    /// The bytes as an array.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Whether all 32 bytes are zero.
    public var isZero: Bool { storage == (0, 0, 0, 0) }

    /// Lowercase hex, 64 characters.
    public var hex: String { withUnsafeBytes { Hex.encode($0) } }

    /// Parses exactly 64 hex characters (either case).
    public init(hex: String) throws(HexError) {
        let decoded = try Hex.decode(hex)
        guard decoded.count == 32 else { throw HexError.wrongLength(expectedBytes: 32, actualBytes: decoded.count) }
        self.init(decoded, range: 0..<32)
    }

    /// Written out word by word: the tuple `==` is generic and, unoptimised
    /// (debug builds, the simulations), costs a metadata lookup per call.
    public static func == (lhs: Bytes32, rhs: Bytes32) -> Bool {
        lhs.storage.0 == rhs.storage.0 && lhs.storage.1 == rhs.storage.1 && lhs.storage.2 == rhs.storage.2 && lhs.storage.3 == rhs.storage.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.0); hasher.combine(storage.1)
        hasher.combine(storage.2); hasher.combine(storage.3)
    }

    /// Bytewise (lexicographic) order, the order CBOR and humans expect.
    public static func < (lhs: Bytes32, rhs: Bytes32) -> Bool {
        lhs.withUnsafeBytes { l in rhs.withUnsafeBytes { r in l.lexicographicallyPrecedes(r) } }
    }
}

extension Bytes32: CustomStringConvertible {
    public var description: String { hex }
}

/// Lowercase hexadecimal encoding, as the contract writes ids in topics and JSON.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Encodes bytes as lowercase hex.
    public static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var utf8: [UInt8] = []
        utf8.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            utf8.append(digits[Int(byte >> 4)])
            utf8.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// Appends the lowercase hex of `bytes` to `output` as UTF-8, without any
    /// intermediate `String` (used for secrets, which must stay zeroable).
    public static func encode(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0f)])
        }
    }

    /// Decodes hex (upper or lower case, no prefix, no separators).
    public static func decode(_ text: String) throws(HexError) -> [UInt8] {
        try decode(utf8: Array(text.utf8))
    }

    /// Decodes hex from UTF-8 bytes; used where the text is secret and must not
    /// become a `String` (which could not be zeroed).
    public static func decode<Text: Collection<UInt8>>(utf8 text: Text) throws(HexError) -> [UInt8] {
        guard text.count % 2 == 0 else { throw .oddLength(text.count) }
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.count / 2)
        var high: UInt8? = nil
        var position = 0
        for character in text {
            guard let nibble = nibble(character) else { throw .invalidCharacter(position: position) }
            if let h = high { bytes.append(h << 4 | nibble); high = nil } else { high = nibble }
            position += 1
        }
        return bytes
    }

    @inline(__always)
    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Text that should have been hex was not.
public enum HexError: Error, Sendable, Hashable, CustomStringConvertible {
    /// An odd number of characters.
    case oddLength(Int)
    /// A character that is not a hex digit, at a 0-based position.
    case invalidCharacter(position: Int)
    /// Valid hex of the wrong length.
    case wrongLength(expectedBytes: Int, actualBytes: Int)

    public var description: String {
        switch self {
        case .oddLength(let n): "hex has an odd number of characters (\(n))"
        case .invalidCharacter(let p): "hex has a character that is not 0-9, a-f or A-F at position \(p + 1)"
        case .wrongLength(let e, let a): "hex is \(a * 2) characters (\(a) bytes); expected \(e * 2) characters (\(e) bytes)"
        }
    }
}

/// Strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates
/// (U+D800-DFFF), nothing above U+10FFFF.
///
/// Why not `String(validating:as:)`: across a module boundary it runs
/// unspecialised generic code that looks up type metadata on every call, which
/// made decoding a batch's sensor strings cost more than the rest of the
/// batch. This is a plain loop with an ASCII fast path.
enum UTF8Validation {
    @inline(__always)
    static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = bytes.count
        while i < n {
            let lead = bytes[i]
            if lead < 0x80 { i += 1; continue }
            let length: Int
            var lower: UInt8 = 0x80, upper: UInt8 = 0xBF // bounds of the second byte
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0        // no overlong 3-byte forms
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F        // no surrogates
            case 0xF0: length = 4; lower = 0x90        // no overlong 4-byte forms
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F        // nothing above U+10FFFF
            default: return false                      // 0x80-0xC1, 0xF5-0xFF
            }
            guard n - i >= length else { return false }
            let second = bytes[i + 1]
            guard second >= lower && second <= upper else { return false }
            for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 { return false }
            i += length
        }
        return true
    }
}

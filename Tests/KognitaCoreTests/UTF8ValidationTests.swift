import Testing
import KognitaCore

/// The decoder's own UTF-8 validation must agree exactly with the standard
/// library's strict validator.
@Suite("UTF-8 validation")
struct UTF8ValidationTests {
    /// Decodes `bytes` as a CBOR text string; nil when refused.
    static func decodeText(_ bytes: [UInt8]) -> String? {
        var writer = CBORWriter()
        writer.writeHead(.textString, UInt64(bytes.count))
        writer.writeEncoded(bytes)
        guard var reader = try? CBORReader(writer.bytes) else { return nil }
        return try? reader.readText()
    }

    static func check(_ bytes: [UInt8]) -> Bool {
        decodeText(bytes) == String(validating: bytes, as: UTF8.self)
    }

    @Test("agrees with the standard library on every 1- and 2-byte sequence")
    func shortSequences() {
        for a in 0...255 { #expect(Self.check([UInt8(a)]), "\(a)") }
        var disagreements = 0
        for a in 0...255 { for b in 0...255 where !Self.check([UInt8(a), UInt8(b)]) { disagreements += 1 } }
        #expect(disagreements == 0)
    }

    @Test("agrees on every 3-byte sequence led by E0-F4 with continuation-range bytes")
    func threeByteSequences() {
        var disagreements: [[UInt8]] = []
        for a in 0xE0...0xF4 { for b in 0x70...0xC5 { for c in 0x70...0xC5 {
            let bytes = [UInt8(a), UInt8(b), UInt8(c)]
            if !Self.check(bytes) { disagreements.append(bytes) }
        } } }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
    }

    @Test("agrees on 200,000 random 4- to 8-byte sequences biased to multi-byte leads")
    func randomSequences() {
        var generator = SystemRandomNumberGenerator()
        var disagreements: [[UInt8]] = []
        for _ in 0..<200_000 {
            let count = Int.random(in: 4...8, using: &generator)
            let bytes = (0..<count).map { _ in
                Bool.random(using: &generator) ? UInt8.random(in: 0x80...0xBF, using: &generator)
                                               : UInt8.random(in: 0xC0...0xFF, using: &generator)
            }
            if !Self.check(bytes) { disagreements.append(bytes) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
    }

    @Test("surrogates, overlong forms and code points past U+10FFFF are refused",
          arguments: [[0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xF0, 0x80, 0x80, 0xAF], [0xF4, 0x90, 0x80, 0x80]] as [[UInt8]])
    func knownInvalid(bytes: [UInt8]) {
        #expect(Self.decodeText(bytes) == nil)
    }
}

import Testing
import KognitaCore
import KognitaTesting

@Suite("Deterministic CBOR")
struct CBORTests {
    @Test("integers are written in their shortest form at every width boundary",
          arguments: [
            (UInt64(0), "00"), (23, "17"), (24, "1818"), (255, "18ff"), (256, "190100"),
            (65535, "19ffff"), (65536, "1a00010000"), (4_294_967_295, "1affffffff"),
            (4_294_967_296, "1b0000000100000000"), (UInt64.max, "1bffffffffffffffff"),
          ])
    func shortestUnsigned(value: UInt64, hex: String) throws {
        var writer = CBORWriter()
        writer.writeUnsigned(value)
        #expect(writer.bytes.testHex == hex)
        #expect(try CBORValue(decoding: writer.bytes) == .unsigned(value))
    }

    @Test("negative integers round-trip through Int64's whole range",
          arguments: [Int64.min, -1_000_000, -25, -24, -1, 0, 1, Int64.max])
    func signedRoundTrip(value: Int64) throws {
        var writer = CBORWriter()
        writer.writeInt64(value)
        var reader = try CBORReader(writer.bytes)
        #expect(try reader.readInt64() == value)
        try reader.expectEnd()
    }

    @Test("an integer beyond Int64 is refused where Int64 is required",
          arguments: ["1b8000000000000000", "3b8000000000000000"])
    func int64Range(hex: String) throws {
        var reader = try CBORReader([UInt8](testHex: hex))
        #expect(throws: CBORError.self) { try reader.readInt64() }
    }

    /// Each input breaks exactly one rule of the contract's encoding, and the
    /// decoder must name that rule.
    @Test("inputs that break a deterministic-encoding rule are refused with that rule",
          arguments: [
            ("1817", CBORError.Kind.nonShortestEncoding),
            ("190017", .nonShortestEncoding),
            ("1a000000ff", .nonShortestEncoding),
            ("1b00000000ffffffff", .nonShortestEncoding),
            ("5801ff", .nonShortestEncoding),
            ("9f01ff", .indefiniteLength),
            ("5f41ffff", .indefiniteLength),
            ("bf0001ff", .indefiniteLength),
            ("a201000100", .duplicateMapKey),
            ("a201000000", .unsortedMapKeys),
            ("f93c00", .floatOrSimpleValue),
            ("fb3ff0000000000000", .floatOrSimpleValue),
            ("f5", .floatOrSimpleValue),
            ("f6", .floatOrSimpleValue),
            ("1c", .reservedAdditionalInformation(28)),
            ("62c328", .invalidUTF8),
            ("63eda080", .invalidUTF8),
            ("0000", .trailingBytes(count: 1)),
            ("19ff", .truncated),
            ("430102", .truncated),
            ("830102", .truncated),
          ])
    func strictRejections(hex: String, rule: CBORError.Kind) {
        let error = #expect(throws: CBORError.self) { try CBORValue(decoding: [UInt8](testHex: hex)) }
        #expect(error?.kind == rule, "\(hex): got \(error.map { "\($0)" } ?? "no error")")
    }

    @Test("the contract skipper refuses tags and keys that are not small integers, which the generic decoder allows",
          arguments: [("c24100", CBORError.Kind.unexpectedTag(2)), ("a1616100", .unexpectedType(expected: "an unsigned integer", found: "a text string")),
                      ("a1181800", .integerOutOfRange("map keys of the contract are 0-23"))])
    func contractSkipper(hex: String, rule: CBORError.Kind) throws {
        _ = try CBORValue(decoding: [UInt8](testHex: hex)) // fine as generic CBOR
        var reader = try CBORReader([UInt8](testHex: hex))
        let error = #expect(throws: CBORError.self) { try reader.skipContractItem() }
        #expect(error?.kind == rule)
    }

    @Test("unsorted map keys are named as such, duplicates as duplicates")
    func mapKeyErrors() throws {
        #expect(throws: CBORError(.unsortedMapKeys, at: 3)) { try CBORValue(decoding: [UInt8](testHex: "a2010000 00".replacingOccurrences(of: " ", with: ""))) }
        #expect(throws: CBORError(.duplicateMapKey, at: 3)) { try CBORValue(decoding: [UInt8](testHex: "a201000100")) }
        // Bytewise order of encodings, not numeric: 10 (0x0a) sorts before 100 (0x1864), and -1 (0x20) after 100.
        let ordered = try CBORValue.map([.init(.int(-1), .unsigned(0)), .init(.unsigned(100), .unsigned(0)), .init(.unsigned(10), .unsigned(0))]).encoded()
        #expect(ordered.testHex == "a30a00186400" + "2000")
        #expect(throws: CBORError.self) { try CBORValue(decoding: [UInt8](testHex: "a2186400 0a00".replacingOccurrences(of: " ", with: ""))) }
    }

    @Test("nesting past the depth limit is refused, not recursed into")
    func depthLimit() {
        let deep = [UInt8](repeating: 0x81, count: 10_000) + [0x00]
        #expect(throws: CBORError(.tooDeep(limit: 16), at: 16)) { try CBORValue(decoding: deep) }
    }

    @Test("a length larger than the input is truncation (or over the item limit), found before anything is reserved")
    func hugeLengths() {
        let cases: [(String, CBORError.Kind)] = [
            ("5bffffffffffffffff", .truncated), ("7a7fffffff", .truncated),
            ("9bffffffffffffffff", .tooLong(limit: 65_536, actual: UInt64.max)),
            ("bbffffffffffffffff", .tooLong(limit: 65_536, actual: UInt64.max)),
            ("9a00010000", .truncated),
        ]
        for (hex, rule) in cases {
            let error = #expect(throws: CBORError.self) { try CBORValue(decoding: [UInt8](testHex: hex)) }
            #expect(error?.kind == rule, "\(hex)")
        }
    }

    @Test("generic values round-trip, and tag 18 is kept")
    func roundTrip() throws {
        let value = CBORValue.tagged(18, .array([
            .bytes([0xa1, 0x01, 0x27]), .map([.init(.unsigned(4), .bytes(Array(repeating: 7, count: 32)))]),
            .text("héllo ✓"), .int(-500), .unsigned(1 << 40), .array([]), .map([]),
        ]))
        let bytes = try value.encoded()
        #expect(try CBORValue(decoding: bytes) == value)
        #expect(try CBORValue(decoding: bytes).encoded() == bytes)
    }

    @Test("input larger than the limit is refused before reading")
    func inputLimit() {
        #expect(throws: CBORError(.inputTooLarge(limit: 4, actual: 5), at: 0)) {
            try CBORReader([0, 0, 0, 0, 0], limits: CBORLimits(maxInputSize: 4))
        }
    }
}

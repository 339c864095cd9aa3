/// A TOML value, for the subset Kognita's config files use.
public enum TOMLValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case integer(Int64)
    case float(Double)
    case bool(Bool)
    case array([TOMLValue])
    case table(TOMLTable)
    case tables([TOMLTable])

    public var description: String {
        switch self {
        case .string(let s): "\"\(s)\""
        case .integer(let i): String(i)
        case .float(let d): String(d)
        case .bool(let b): String(b)
        case .array(let a): "[" + a.map { $0.description }.joined(separator: ", ") + "]"
        case .table: "{table}"
        case .tables(let t): "[\(t.count) tables]"
        }
    }
}

/// A TOML table, keys in file order.
public struct TOMLTable: Sendable, Hashable {
    public private(set) var keys: [String] = []
    public private(set) var values: [String: TOMLValue] = [:]
    /// Line where each key was set, for error messages.
    public private(set) var lines: [String: Int] = [:]

    public init() {}

    public subscript(key: String) -> TOMLValue? { values[key] }

    mutating func set(_ key: String, _ value: TOMLValue, line: Int) {
        if values[key] == nil { keys.append(key) }
        values[key] = value
        lines[key] = line
    }
}

/// A TOML document could not be parsed; says which line and why.
public struct TOMLError: Error, Sendable, Hashable, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

/// Parses the TOML subset Kognita's config files use: comments, `[table]` and
/// `[[array.of.tables]]` headers (one level), `key = value` with bare or quoted
/// keys, basic strings with escapes, literal strings, integers (with `_`,
/// `0x`), decimal floats, booleans and one-line arrays. Anything else is an
/// error naming the line, never a guess.
public enum TOMLParser {
    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var root = TOMLTable()
        var current: (name: String, isArray: Bool)? = nil
        var section = TOMLTable()
        var sectionLine = 0

        func flush() throws(TOMLError) {
            guard let current else { return }
            if current.isArray {
                var list: [TOMLTable] = []
                if case .tables(let existing)? = root[current.name] { list = existing }
                else if root[current.name] != nil { throw TOMLError(line: sectionLine, message: "'\(current.name)' is defined twice") }
                list.append(section)
                root.set(current.name, .tables(list), line: sectionLine)
            } else {
                guard root[current.name] == nil else { throw TOMLError(line: sectionLine, message: "table [\(current.name)] is defined twice") }
                root.set(current.name, .table(section), line: sectionLine)
            }
        }

        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var scanner = Scanner(Array(rawLine.utf8), line: number)
            scanner.skipSpaces()
            if scanner.atEndOrComment { continue }
            if scanner.peek == UInt8(ascii: "[") {
                try flush()
                let isArray = scanner.peek(at: 1) == UInt8(ascii: "[")
                scanner.advance(isArray ? 2 : 1)
                scanner.skipSpaces()
                let name = try scanner.key()
                scanner.skipSpaces()
                try scanner.expect(isArray ? "]]" : "]")
                scanner.skipSpaces()
                guard scanner.atEndOrComment else { throw TOMLError(line: number, message: "unexpected text after the table header") }
                current = (name, isArray)
                section = TOMLTable()
                sectionLine = number
                continue
            }
            let key = try scanner.key()
            scanner.skipSpaces()
            try scanner.expect("=")
            scanner.skipSpaces()
            let value = try scanner.value()
            scanner.skipSpaces()
            guard scanner.atEndOrComment else { throw TOMLError(line: number, message: "unexpected text after the value of '\(key)'") }
            if current == nil {
                guard root[key] == nil else { throw TOMLError(line: number, message: "'\(key)' is set twice") }
                root.set(key, value, line: number)
            } else {
                guard section[key] == nil else { throw TOMLError(line: number, message: "'\(key)' is set twice in [\(current!.name)]") }
                section.set(key, value, line: number)
            }
        }
        try flush()
        return root
    }

    private struct Scanner {
        let bytes: [UInt8]
        let line: Int
        var position = 0

        init(_ bytes: [UInt8], line: Int) {
            var trimmed = bytes
            if trimmed.last == UInt8(ascii: "\r") { trimmed.removeLast() }
            self.bytes = trimmed
            self.line = line
        }

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }
        func peek(at offset: Int) -> UInt8? { position + offset < bytes.count ? bytes[position + offset] : nil }
        mutating func advance(_ n: Int = 1) { position += n }
        var atEndOrComment: Bool { peek == nil || peek == UInt8(ascii: "#") }

        mutating func skipSpaces() {
            while let c = peek, c == 0x20 || c == 0x09 { advance() }
        }

        func error(_ message: String) -> TOMLError { TOMLError(line: line, message: message) }

        mutating func expect(_ text: String) throws(TOMLError) {
            for byte in text.utf8 {
                guard peek == byte else { throw error("expected '\(text)'") }
                advance()
            }
        }

        mutating func key() throws(TOMLError) -> String {
            if peek == UInt8(ascii: "\"") { return try basicString() }
            let start = position
            while let c = peek, isBare(c) { advance() }
            guard position > start else { throw error("expected a key") }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        private func isBare(_ c: UInt8) -> Bool {
            (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D || c == 0x2E
        }

        mutating func value() throws(TOMLError) -> TOMLValue {
            guard let c = peek else { throw error("expected a value") }
            switch c {
            case UInt8(ascii: "\""): return .string(try basicString())
            case UInt8(ascii: "'"):
                advance()
                let start = position
                while let d = peek, d != UInt8(ascii: "'") { advance() }
                guard peek != nil else { throw error("unterminated string") }
                defer { advance() }
                return .string(String(decoding: bytes[start..<position], as: UTF8.self))
            case UInt8(ascii: "["):
                advance()
                var items: [TOMLValue] = []
                while true {
                    skipSpaces()
                    if peek == UInt8(ascii: "]") { advance(); return .array(items) }
                    items.append(try value())
                    skipSpaces()
                    if peek == UInt8(ascii: ",") { advance(); continue }
                    skipSpaces()
                    guard peek == UInt8(ascii: "]") else { throw error("expected ',' or ']' in an array (arrays must fit on one line)") }
                }
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                let word = scanWord()
                switch word {
                case "true": return .bool(true)
                case "false": return .bool(false)
                default: throw error("unknown value '\(word)' (strings need quotes)")
                }
            default:
                return try number(scanWord())
            }
        }

        private mutating func scanWord() -> String {
            let start = position
            while let c = peek, c != 0x20, c != 0x09, c != UInt8(ascii: ","), c != UInt8(ascii: "]"), c != UInt8(ascii: "#") { advance() }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        private func number(_ word: String) throws(TOMLError) -> TOMLValue {
            let plain = word.replacingUnderscores()
            if plain.hasPrefix("0x"), let value = Int64(plain.dropFirst(2), radix: 16) { return .integer(value) }
            if let value = Int64(plain) { return .integer(value) }
            let allowed = plain.allSatisfy { $0.isASCII && ($0.isNumber || $0 == "." || $0 == "-" || $0 == "+") }
            if allowed, plain.contains("."), let value = Double(plain), value.isFinite { return .float(value) }
            throw error("'\(word)' is not a value (strings need quotes; numbers are plain decimals)")
        }

        private mutating func basicString() throws(TOMLError) -> String {
            advance() // opening quote
            var out: [UInt8] = []
            while let c = peek {
                advance()
                if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                guard c == UInt8(ascii: "\\") else { out.append(c); continue }
                guard let e = peek else { break }
                advance()
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "\\"), UInt8(ascii: "\""): out.append(e)
                case UInt8(ascii: "u"):
                    guard position + 4 <= bytes.count,
                          let code = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(code) else { throw error("bad \\u escape") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    advance(4)
                default: throw error("unknown escape '\\\(Character(Unicode.Scalar(e)))'")
                }
            }
            throw error("unterminated string")
        }
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}

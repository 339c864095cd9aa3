/// Reads typed values out of a parsed TOML document (agent, node and bridge
/// configurations, genesis files), applying environment
/// overrides and collecting errors by key instead of stopping at the first.
public struct ConfigReader {
    public let root: TOMLTable
    public let environment: [String: String]
    public private(set) var errors: [String] = []
    private var known: [String: Set<String>] = [:]

    public init(_ root: TOMLTable, environment: [String: String] = [:]) {
        self.root = root
        self.environment = environment
    }

    /// A reader over `text`, or the syntax error as the one problem to report.
    public static func parsing(_ text: String, environment: [String: String] = [:]) -> Result<ConfigReader, ConfigurationErrors> {
        do throws(TOMLError) { return .success(ConfigReader(try TOMLParser.parse(text), environment: environment)) } catch {
            return .failure(ConfigurationErrors(["syntax: \(error)"]))
        }
    }

    public mutating func fail(_ key: String, _ message: String) { errors.append("\(key): \(message)") }

    private mutating func raw(_ section: String, _ key: String) -> (TOMLValue?, fromEnvironment: Bool) {
        known[section, default: []].insert(key)
        if let text = environment["KOGNITA_\(section.uppercased())_\(key.uppercased())"] { return (.string(text), true) }
        if case .table(let table)? = root[section] { return (table[key], false) }
        return (nil, false)
    }

    public mutating func string(_ section: String, _ key: String) -> String? {
        switch raw(section, key) {
        case (nil, _): return nil
        case (.string(let s)?, _): return s
        case (let value?, _): fail("\(section).\(key)", "expected a quoted string, found \(value)"); return nil
        }
    }

    public mutating func unsigned(_ section: String, _ key: String, range: ClosedRange<UInt64> = 0...UInt64.max) -> UInt64? {
        let (value, fromEnvironment) = raw(section, key)
        return unsigned(value, fromEnvironment: fromEnvironment, name: "\(section).\(key)", range: range)
    }

    private mutating func unsigned(_ value: TOMLValue?, fromEnvironment: Bool, name: String, range: ClosedRange<UInt64>) -> UInt64? {
        let number: UInt64?
        switch value {
        case nil: return nil
        case .integer(let i)?: number = i >= 0 ? UInt64(i) : nil
        case .string(let s)? where fromEnvironment: number = UInt64(s)
        default: number = nil
        }
        guard let number, range.contains(number) else {
            fail(name, "expected a whole number from \(range.lowerBound) to \(range.upperBound), found \(value!)")
            return nil
        }
        return number
    }

    // Arrays of tables ([[sensor]], [[rule]]): no environment overrides.
    public mutating func tables(_ name: String) -> [TOMLTable] {
        known[name, default: []].insert("*")
        switch root[name] {
        case .tables(let list)?: return list
        case nil: return []
        case let other?: fail(name, "expected [[\(name)]] sections, found \(other)"); return []
        }
    }

    public mutating func string(_ table: TOMLTable, _ at: String, _ key: String) -> String? {
        known["\(at)", default: []].insert(key)
        switch table[key] {
        case nil: return nil
        case .string(let s)?: return s
        case let value?: fail("\(at).\(key)", "expected a quoted string, found \(value)"); return nil
        }
    }

    public mutating func unsigned(_ table: TOMLTable, _ at: String, _ key: String, range: ClosedRange<UInt64>) -> UInt64? {
        known["\(at)", default: []].insert(key)
        return unsigned(table[key], fromEnvironment: false, name: "\(at).\(key)", range: range)
    }

    public mutating func float(_ table: TOMLTable, _ at: String, _ key: String) -> Double? {
        known["\(at)", default: []].insert(key)
        switch table[key] {
        case nil: return nil
        case .float(let d)?: return d
        case .integer(let i)?: return Double(i)
        case let value?: fail("\(at).\(key)", "expected a number, found \(value)"); return nil
        }
    }

    /// Reports keys nobody asked for: usually a typo that would otherwise be silently ignored.
    public mutating func rejectUnknownKeys() {
        for name in root.keys {
            guard let asked = known[name] else { fail(name, "unknown section or key"); continue }
            if case .table(let table)? = root[name] {
                for key in table.keys where !asked.contains(key) { fail("\(name).\(key)", "unknown key") }
            }
            if case .tables(let list)? = root[name] {
                for (index, table) in list.enumerated() {
                    let askedHere = known["\(name)[\(index)]"] ?? []
                    for key in table.keys where !askedHere.contains(key) { fail("\(name)[\(index)].\(key)", "unknown key") }
                }
            }
        }
    }
}

/// Everything wrong with a configuration, each naming its key.
public struct ConfigurationErrors: Error, Sendable, CustomStringConvertible {
    public let messages: [String]
    public init(_ messages: [String]) { self.messages = messages }
    public var description: String { messages.joined(separator: "\n") }
}

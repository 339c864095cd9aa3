import Foundation
import KognitaCore

/// Paths of the package under test, found from this file's location, so tests
/// work from any working directory.
public enum Repository {
    /// The package root (the folder holding Package.swift).
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() } // Tests/KognitaTesting/Repository.swift
        return url.path
    }()

    /// A path relative to the package root.
    public static func path(_ relative: String) -> String { "\(root)/\(relative)" }

    /// Loads `Tests/Vectors/NAME`, the one place vectors live, with exact
    /// integer parsing (vectors hold values up to 2^64 - 1).
    public static func vectors<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("Tests/Vectors/\(name)")))
        return try JSONDecoder().decode(T.self, from: data)
    }

    /// An executable that `swift build` put beside the running test bundle.
    /// For kognita-agent, KOGNITA_AGENT_BINARY names another build to test
    /// instead (`make test` runs the agent's process tests again on the
    /// embedded build, the one devices run).
    public static func builtProduct(_ name: String) throws -> String {
        if name == "kognita-agent", let other = ProcessInfo.processInfo.environment["KOGNITA_AGENT_BINARY"], !other.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: other) else {
                throw TestSupportError("KOGNITA_AGENT_BINARY is \(other), which is not an executable; build it (Scripts/build-agent-embedded.sh) or unset the variable")
            }
            return other
        }
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var url = URL(fileURLWithPath: executable)
        // swift test runs .build/<triple>/<config>/<package>PackageTests.xctest
        url.deleteLastPathComponent()
        let candidate = url.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw TestSupportError("\(name) is not built next to the tests (\(candidate)); run 'swift build' first")
        }
        return candidate
    }
}

extension Array where Element == UInt8 {
    /// Bytes from hex (either case) in test data; traps on bad hex, which only a broken test has.
    public init(testHex hex: String) {
        do { self = try Hex.decode(hex) } catch { preconditionFailure("bad hex in test data: \(error)") }
    }

    /// Lowercase hex.
    public var testHex: String { Hex.encode(self) }
}

import Foundation

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

    /// Loads a JSON object from `Tests/Vectors/NAME`, the one place vectors live.
    public static func vectorFile(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("Tests/Vectors/\(name)")))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestSupportError("Tests/Vectors/\(name) is not a JSON object")
        }
        return object
    }

    /// An executable that `swift build` put beside the running test bundle.
    public static func builtProduct(_ name: String) throws -> String {
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
    /// Bytes from hex (either case); traps on bad hex, which only a broken test has.
    public init(testHex hex: String) {
        var bytes: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case 48...57: c - 48
            case 65...70: c - 55
            case 97...102: c - 87
            default: preconditionFailure("bad hex in test data")
            }
        }
        while let high = iterator.next(), let low = iterator.next() { bytes.append(nibble(high) << 4 | nibble(low)) }
        self = bytes
    }

    /// Lowercase hex.
    public var testHex: String { map { String(format: "%02x", $0) }.joined() }
}

import Foundation

/// A fresh directory under the system temporary directory, removed when the
/// test's closure returns or throws.
public enum TemporaryDirectory {
    /// Creates a directory, runs `body` with its path, then removes it whatever happens.
    public static func with<R>(_ body: (String) async throws -> R) async throws -> R {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(base)/kognita-test-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else {
            throw TestSupportError("cannot create a temporary directory under \(base): errno \(errno)")
        }
        let path = String(cString: created)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }
}

/// A failure in test set-up, with a message that says what to fix.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

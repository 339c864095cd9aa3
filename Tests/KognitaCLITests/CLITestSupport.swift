import Foundation
import KognitaTesting

/// Runs the built `kognita` executable.
enum CLI {
    static func run(_ arguments: [String], in directory: String? = nil) async throws -> ChildProcess.Result {
        try await ChildProcess.run(try Repository.builtProduct("kognita"), arguments, currentDirectory: directory)
    }

    static func parseJSON(_ text: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw TestSupportError("not a JSON object: \(text)")
        }
        return object
    }

    static let recipient = String(repeating: "ab", count: 32)
    static let rfc8032Seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
    static let rfc8032ID = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
}

extension ChildProcess.Result {
    /// Standard error is exactly one line (the user-facing error).
    var hasOneLineError: Bool {
        let lines = stderr.split(separator: "\n", omittingEmptySubsequences: true)
        return lines.count == 1 && lines[0].hasPrefix("Error: ")
    }
}

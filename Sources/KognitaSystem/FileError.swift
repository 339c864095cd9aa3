#if canImport(Glibc)
import Glibc
#endif

/// A file operation failed; the description names the file and the cause.
public struct FileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file concerned.
    public let path: String
    /// What went wrong.
    public let message: String
    /// Whether the failure is that the file exists and replacing it was not allowed.
    public let isAlreadyExists: Bool
    /// Whether the failure is that the file is larger than the caller's limit.
    public let isTooLarge: Bool
    /// The `errno` of the failing call, when a system call failed.
    public let code: Int32?

    /// Whether the failure is that the file (or a directory on its path) does not exist.
    public var isMissing: Bool { code == ENOENT }

    /// A failure concerning `path`, described by `message`.
    public init(_ path: String, _ message: String, isAlreadyExists: Bool = false, isTooLarge: Bool = false) {
        self.init(path, message, isAlreadyExists: isAlreadyExists, isTooLarge: isTooLarge, code: nil)
    }

    init(_ path: String, errno code: Int32, doing action: String) {
        self.init(path, "\(action): \(String(cString: strerror(code)))", isAlreadyExists: false, isTooLarge: false, code: code)
    }

    private init(_ path: String, _ message: String, isAlreadyExists: Bool, isTooLarge: Bool, code: Int32?) {
        self.path = path
        self.message = message
        self.isAlreadyExists = isAlreadyExists
        self.isTooLarge = isTooLarge
        self.code = code
    }

    static func alreadyExists(_ path: String) -> FileError {
        FileError(path, "already exists", isAlreadyExists: true)
    }

    public var description: String { "\(path): \(message)" }
}

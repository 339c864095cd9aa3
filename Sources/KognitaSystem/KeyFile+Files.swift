import KognitaCore

/// Reading and writing key files on disk (the format itself is ``KeyFile``'s, in the core).
extension KeyFile {
    /// Loads a key file, refusing one that group or others can access.
    public static func load(_ path: String) throws(KeyFileError) -> SigningKey {
        var text: [UInt8]
        do throws(FileError) { text = try FileIO.read(path, maxBytes: maxBytes, requirePrivate: true) } catch {
            throw KeyFileError(path, error.message)
        }
        defer { text.withUnsafeMutableBytes { Sodium.zero($0) } }
        return try decode(text, source: path)
    }

    /// Writes `key` to `path` atomically with mode 0600.
    public static func save(_ key: SigningKey, to path: String, replace: Bool) throws(FileError) {
        var text = encode(key)
        defer { text.withUnsafeMutableBytes { Sodium.zero($0) } }
        try FileIO.writeAtomically(text, to: path, mode: 0o600, replace: replace)
    }
}

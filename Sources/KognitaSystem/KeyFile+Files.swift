#if canImport(Glibc)
import Glibc
#endif
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

    /// Loads the key at `path`, or makes one there (mode 0600, atomically)
    /// when there is none; `created` says which. Two processes racing to make
    /// it end up with the same key (the loser loads the winner's).
    public static func loadOrCreate(_ path: String) throws(KeyFileError) -> (key: SigningKey, created: Bool) {
        var info = stat()
        if stat(path, &info) == 0 { return (try load(path), false) }
        let key = SigningKey()
        // (An exhaustive catch: a partial `catch ... where` on a typed throw
        // crashes the Swift 6.3.1 compiler here.)
        do throws(FileError) {
            try save(key, to: path, replace: false)
        } catch {
            guard error.isAlreadyExists else { throw KeyFileError(path, error.message) }
            return (try load(path), false) // another process made it a moment ago
        }
        return (key, true)
    }
}

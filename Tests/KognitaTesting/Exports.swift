// The process and port helpers live in KognitaSystem (the devnet uses them too).
@_exported import KognitaSystem

extension String {
    /// Writes the text to `path` atomically (a temporary file in the same
    /// directory, renamed over it), readable by all (0644). Foundation's
    /// `write(toFile:atomically: true)` on Linux leaves an empty
    /// `TemporaryDirectory.*` in /tmp behind each call: a test run left
    /// a dozen, and a CI machine would fill up with them.
    public func write(toFile path: String) throws {
        do throws(FileError) { try FileIO.writeAtomically(Array(utf8), to: path, mode: 0o644, replace: true, durable: false) } catch {
            throw TestSupportError("cannot write \(path): \(error)")
        }
    }
}

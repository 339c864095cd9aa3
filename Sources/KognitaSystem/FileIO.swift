import KognitaCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few file operations the protocol's users need, done safely with POSIX
/// calls: whole-file reads with a size limit and an optional privacy check, and
/// atomic writes (temporary file, fsync, rename or link, fsync of the directory)
/// so a crash leaves either the old file or the complete new one.
public enum FileIO {
    /// Reads a whole regular file of at most `maxBytes`.
    ///
    /// With `requirePrivate`, refuses a file that its group or others may
    /// access: secrets must be mode 0600 (or stricter).
    public static func read(_ path: String, maxBytes: Int, requirePrivate: Bool = false) throws(FileError) -> [UInt8] {
        // O_NONBLOCK: opening a FIFO must not hang; the type check below refuses it.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw FileError(path, errno: errno, doing: "cannot open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError(path, errno: errno, doing: "cannot stat") }
        guard info.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG) else { throw FileError(path, "not a regular file") }
        if requirePrivate && (info.st_mode & 0o077) != 0 {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw FileError(path, "readable by group or others (mode 0\(mode)); a secret key must be private: run 'chmod 600 \(path)'")
        }
        guard Int(info.st_size) <= maxBytes else {
            throw FileError(path, "file is \(info.st_size) bytes; the limit for this kind of file is \(maxBytes)", isTooLarge: true)
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                let code = errno
                bytes.withUnsafeMutableBytes { Sodium.zero($0) } // may hold part of a secret
                throw FileError(path, errno: code, doing: "cannot read")
            }
            if n == 0 { break } // the file shrank while we read it
            done += n
        }
        if done < bytes.count { bytes.removeSubrange(done...) }
        return bytes
    }

    /// Reads a small file whose size the kernel does not report, as sysfs,
    /// procfs and IIO attributes are (they stat as 4096 or 0 bytes).
    public static func readSpecial(_ path: String, maxBytes: Int) throws(FileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw FileError(path, errno: errno, doing: "cannot open") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: maxBytes + 1)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw FileError(path, errno: errno, doing: "cannot read") }
            if n == 0 { break }
            done += n
        }
        guard done <= maxBytes else { throw FileError(path, "holds more than \(maxBytes) bytes", isTooLarge: true) }
        return Array(bytes[..<done])
    }

    /// Writes `bytes` to `path` atomically with the given permission bits.
    ///
    /// Without `replace`, an existing file at `path` is left alone and
    /// ``FileError/alreadyExists`` is thrown; the check and the creation are one
    /// atomic `link`, so two writers cannot both win.
    /// With `durable` false the data and directory are not fsynced: still
    /// atomic (never half-written), but not guaranteed to survive a power cut.
    public static func writeAtomically<Bytes: ContiguousByteStorage>(_ bytes: Bytes, to path: String, mode: mode_t = 0o600, replace: Bool, durable: Bool = true) throws(FileError) {
        let directory = parentDirectory(of: path)
        let suffix = Hex.encode(Sodium.randomBytes(6))
        let temporary = "\(directory)/\(temporaryPrefix(of: path))\(getpid())-\(suffix)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileError(path, errno: errno, doing: "cannot create a temporary file in \(directory)") }
        var keepTemporary = false
        defer { if !keepTemporary { unlink(temporary) } }
        do {
            defer { close(fd) }
            // open() applies the umask; the caller's mode is what must hold.
            guard fchmod(fd, mode) == 0 else { throw FileError(path, errno: errno, doing: "cannot set the file mode") }
            try writeAll(fd, bytes, path: path)
            if durable { guard fsync(fd) == 0 else { throw FileError(path, errno: errno, doing: "cannot fsync") } }
        }
        if replace {
            guard rename(temporary, path) == 0 else { throw FileError(path, errno: errno, doing: "cannot rename the temporary file into place") }
            keepTemporary = true // it is the file now
        } else {
            guard link(temporary, path) == 0 else {
                if errno == EEXIST { throw FileError.alreadyExists(path) }
                throw FileError(path, errno: errno, doing: "cannot create")
            }
        }
        if durable { syncDirectory(directory) }
    }

    private static func writeAll<Bytes: ContiguousByteStorage>(_ fd: Int32, _ bytes: Bytes, path: String) throws(FileError) {
        let failure: Int32? = bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { return errno }
                done += n
            }
            return nil
        }
        if let failure { throw FileError(path, errno: failure, doing: "cannot write") }
    }

    /// Removes the temporary files that ``writeAtomically(_:to:mode:replace:durable:)``
    /// left next to `path` when a process died between creating and renaming
    /// one (a SIGKILL or power cut mid-write); returns how many it removed.
    ///
    /// Only for a caller that is the file's sole writer (for example under a
    /// lock): a temporary of a write in progress elsewhere would be removed too.
    /// On a small device a compaction's leftover is as large as the file it
    /// replaced, and a few power cuts could fill the card.
    @discardableResult
    public static func removeAbandonedTemporaries(of path: String) -> Int {
        let directory = parentDirectory(of: path)
        let prefix = temporaryPrefix(of: path)
        guard let stream = opendir(directory) else { return 0 }
        defer { closedir(stream) }
        var removed = 0
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) { String(cString: $0) }
            }
            if name.hasPrefix(prefix) && unlink("\(directory)/\(name)") == 0 { removed += 1 }
        }
        return removed
    }

    /// How the names of `path`'s temporaries begin (the writer's pid and a
    /// random suffix follow), in its own directory.
    private static func temporaryPrefix(of path: String) -> String { ".\(baseName(of: path)).tmp-" }

    /// Makes a rename or link durable: the directory entry lives in the directory.
    private static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = path[..<slash]
        return parent.isEmpty ? "/" : String(parent)
    }

    static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// What every Kognita program's configuration loading shares: the
/// `KOGNITA_*` environment overrides and paths relative to the file.
public enum ConfigEnvironment {
    /// The process's `KOGNITA_*` variables (the overrides `ConfigReader` applies).
    public static func overrides() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if text.hasPrefix("KOGNITA_"), let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }

    /// `path` as written in the configuration file at `configPath`: absolute
    /// as it is, relative to the file's directory otherwise.
    public static func resolve(_ path: String, relativeTo configPath: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        let base = configPath.contains("/") ? String(configPath[..<configPath.lastIndex(of: "/")!]) : "."
        return "\(base)/\(path)"
    }

    /// Reads a configuration file (at most 1 MiB) as text.
    public static func read(_ path: String) throws(FileError) -> String {
        String(decoding: try FileIO.read(path, maxBytes: 1 << 20), as: UTF8.self)
    }
}

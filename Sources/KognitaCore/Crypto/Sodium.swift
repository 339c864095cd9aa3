import CSodium

/// One-time libsodium initialisation.
///
/// Every wrapper in this module calls ``Sodium/ensureInitialized()`` before it
/// touches libsodium; callers never need to.
public enum Sodium {
    /// `sodium_init()` result, computed once. Swift initialises globals and
    /// static lets exactly once, thread-safely, which is what libsodium asks for.
    private static let initResult: Int32 = sodium_init()

    /// Initialises libsodium if that has not happened yet.
    ///
    /// `sodium_init` fails only when the system cannot provide randomness; no
    /// key or signature could be trusted then, so this stops the process.
    @inline(__always)
    public static func ensureInitialized() {
        precondition(initResult >= 0, "libsodium failed to initialise (sodium_init returned \(initResult)): the system has no usable source of randomness")
    }

    /// The version string of the linked libsodium, for diagnostics.
    public static var version: String {
        ensureInitialized()
        return String(cString: sodium_version_string())
    }

    /// Fills a new array with `count` cryptographically secure random bytes.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        ensureInitialized()
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return bytes
    }

    /// Overwrites memory with zeros in a way the compiler may not optimise away.
    public static func zero(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        sodium_memzero(base, buffer.count)
    }
}

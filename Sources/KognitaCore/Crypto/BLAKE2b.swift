import CSodium

/// BLAKE2b with a 32-byte output and no key (libsodium `crypto_generichash`),
/// the hash behind batch ids.
public enum BLAKE2b256 {
    /// Hashes `message`.
    public static func hash<Message: ContiguousBytes>(_ message: Message) -> Bytes32 {
        Sodium.ensureInitialized()
        var digest = Bytes32.zero
        digest.withUnsafeMutableBytes { out in
            message.withUnsafeBytes { msg in
                _ = crypto_generichash(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), 32,
                    msg.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(msg.count),
                    nil, 0)
            }
        }
        return digest
    }
}

/// Types whose bytes are contiguous in memory. A small local stand-in for
/// Foundation's protocol of the same name, so the core needs no Foundation.
public protocol ContiguousBytes {
    /// Calls `body` with the bytes.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousBytes where Element == UInt8 {}
extension ArraySlice: ContiguousBytes where Element == UInt8 {}
extension ContiguousArray: ContiguousBytes where Element == UInt8 {}
extension UnsafeRawBufferPointer: ContiguousBytes {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(self) }
}

import CSodium

/// BLAKE2b with a 32-byte output and no key (libsodium `crypto_generichash`),
/// the hash behind batch ids.
public enum BLAKE2b256 {
    /// Hashes `message`.
    public static func hash<Message: ContiguousByteStorage>(_ message: Message) -> Bytes32 {
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

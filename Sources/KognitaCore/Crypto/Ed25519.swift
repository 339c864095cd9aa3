import CSodium

/// An Ed25519 public key: a device's (and an account's) identity.
public struct PublicKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 32 key bytes.
    public let rawValue: Bytes32

    /// Wraps 32 bytes. Any 32 bytes are accepted here; libsodium rejects
    /// invalid points when a signature is verified against them.
    public init(_ rawValue: Bytes32) { self.rawValue = rawValue }

    /// Throws ``LengthError`` unless `bytes` is exactly 32 long.
    public init<Bytes: Collection<UInt8>>(bytes: Bytes) throws(LengthError) {
        rawValue = try Bytes32(bytes)
    }

    /// Parses the 64-character hex form used in topics and JSON.
    public init(hex: String) throws(HexError) { rawValue = try Bytes32(hex: hex) }

    /// 64 lowercase hex characters, the form used in topics and JSON.
    public var hex: String { rawValue.hex }
    public var description: String { rawValue.hex }
    public static func < (l: PublicKey, r: PublicKey) -> Bool { l.rawValue < r.rawValue }

    /// Verifies a detached Ed25519 signature over `message`.
    public func isValidSignature<Message: ContiguousByteStorage>(_ signature: Signature, for message: Message) -> Bool {
        Sodium.ensureInitialized()
        return rawValue.withUnsafeBytes { key in
            signature.bytes.withUnsafeBufferPointer { sig in
                message.withUnsafeBytes { msg in
                    crypto_sign_verify_detached(
                        sig.baseAddress!,
                        msg.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        UInt64(msg.count),
                        key.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 0
                }
            }
        }
    }
}

/// An account id is the account owner's public key.
public typealias AccountID = PublicKey

/// A detached Ed25519 signature, 64 bytes.
public struct Signature: Sendable, Hashable, CustomStringConvertible {
    /// Signature length in bytes.
    public static let byteCount = 64
    /// The 64 signature bytes.
    public let bytes: [UInt8]

    /// Throws ``LengthError`` unless `bytes` is exactly 64 long.
    public init<Bytes: Collection<UInt8>>(bytes: Bytes) throws(LengthError) {
        guard bytes.count == Self.byteCount else { throw LengthError(expected: Self.byteCount, actual: bytes.count) }
        self.bytes = Array(bytes)
    }

    public var description: String { Hex.encode(bytes) }
}

/// An Ed25519 signing key. The secret lives in memory that is zeroed when the
/// last copy of the key is released.
public struct SigningKey: Sendable {
    /// Seed length in bytes (libsodium `crypto_sign_SEEDBYTES`).
    public static let seedByteCount = 32

    // libsodium's 64-byte secret key (seed followed by the public key).
    private let secret: SecretBytes
    /// The matching public key: the device id.
    public let publicKey: PublicKey

    /// A new random key pair.
    public init() {
        Sodium.ensureInitialized()
        var seed = Sodium.randomBytes(Self.seedByteCount)
        defer { seed.withUnsafeMutableBytes { Sodium.zero($0) } }
        self = try! SigningKey(seed: seed) // 32 bytes by construction
    }

    /// The key pair for a 32-byte seed (RFC 8032's "secret key").
    public init<Seed: ContiguousByteStorage>(seed: Seed) throws(LengthError) {
        Sodium.ensureInitialized()
        let count = seed.withUnsafeBytes { $0.count }
        guard count == Self.seedByteCount else { throw LengthError(expected: Self.seedByteCount, actual: count) }
        var publicBytes = [UInt8](repeating: 0, count: 32)
        secret = SecretBytes(count: Int(crypto_sign_SECRETKEYBYTES)) { secretBuffer in
            seed.withUnsafeBytes { seedBuffer in
                publicBytes.withUnsafeMutableBufferPointer { pk in
                    _ = crypto_sign_seed_keypair(
                        pk.baseAddress!,
                        secretBuffer.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        seedBuffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        publicKey = PublicKey(try! Bytes32(publicBytes))
    }

    /// Gives read access to the 32-byte seed, for writing a key file. The
    /// buffer is valid only inside `body`; do not copy it into a `String`.
    public func withUnsafeSeed<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try secret.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<Self.seedByteCount])) }
    }

    /// Signs `message` (detached, deterministic per RFC 8032).
    public func signature<Message: ContiguousByteStorage>(for message: Message) -> Signature {
        var signature = [UInt8](repeating: 0, count: Signature.byteCount)
        secret.withUnsafeBytes { sk in
            message.withUnsafeBytes { msg in
                signature.withUnsafeMutableBufferPointer { sig in
                    _ = crypto_sign_detached(
                        sig.baseAddress!, nil,
                        msg.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(msg.count),
                        sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        return try! Signature(bytes: signature) // 64 bytes by construction
    }
}

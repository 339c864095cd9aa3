import CSodium

/// One direction of an encrypted connection: libsodium's
/// `crypto_secretstream_xchacha20poly1305`. Every message is authenticated,
/// and the stream's internal counter makes a reordered, replayed, dropped or
/// truncated message fail to open: exactly what a peer link needs.
///
/// A stream holds mutable C state and is used by one task at a time (the
/// connection's writer for a sender, its reader for a receiver).
public final class SecretStreamSender: @unchecked Sendable {
    /// Bytes added to every message.
    public static let overhead = Int(crypto_secretstream_xchacha20poly1305_ABYTES)
    /// The header the receiver needs to start its side; sent once, first.
    public let header: [UInt8]
    private let state: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>

    /// Starts a stream with the session's transmit key.
    public init(keys: SessionKeys) {
        Sodium.ensureInitialized()
        let state = UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>.allocate(capacity: 1)
        self.state = state
        var header = [UInt8](repeating: 0, count: Int(crypto_secretstream_xchacha20poly1305_HEADERBYTES))
        keys.transmit.withUnsafeBytes { key in
            header.withUnsafeMutableBufferPointer { h in
                _ = crypto_secretstream_xchacha20poly1305_init_push(state, h.baseAddress!, key.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        self.header = header
    }

    deinit {
        Sodium.zero(UnsafeMutableRawBufferPointer(start: state, count: MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size))
        state.deallocate()
    }

    /// Encrypts `plaintext` as the stream's next message.
    public func seal(_ plaintext: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: plaintext.count + Self.overhead) { out, count in
            var written: UInt64 = 0
            _ = crypto_secretstream_xchacha20poly1305_push(
                state, out.baseAddress!, &written,
                plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(plaintext.count),
                nil, 0, UInt8(crypto_secretstream_xchacha20poly1305_TAG_MESSAGE))
            count = Int(written)
        }
    }
}

/// The receiving direction of an encrypted connection (see ``SecretStreamSender``).
public final class SecretStreamReceiver: @unchecked Sendable {
    private let state: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>

    /// The header a sender sends first.
    public static let headerByteCount = Int(crypto_secretstream_xchacha20poly1305_HEADERBYTES)

    /// Starts the receiving side with the session's receive key and the sender's header.
    public init(keys: SessionKeys, header: [UInt8]) throws(SecretStreamError) {
        Sodium.ensureInitialized()
        guard header.count == Self.headerByteCount else { throw SecretStreamError("the stream header has \(header.count) bytes, not \(Self.headerByteCount)") }
        let state = UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>.allocate(capacity: 1)
        let status = keys.receive.withUnsafeBytes { key in
            header.withUnsafeBufferPointer { h in
                crypto_secretstream_xchacha20poly1305_init_pull(state, h.baseAddress!, key.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard status == 0 else {
            state.deallocate()
            throw SecretStreamError("the stream header is not valid")
        }
        self.state = state
    }

    deinit {
        Sodium.zero(UnsafeMutableRawBufferPointer(start: state, count: MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size))
        state.deallocate()
    }

    /// Decrypts the stream's next message; fails when it was forged, altered,
    /// replayed or is out of order (the connection must then be closed).
    public func open(_ ciphertext: UnsafeRawBufferPointer) throws(SecretStreamError) -> [UInt8] {
        guard ciphertext.count >= SecretStreamSender.overhead else { throw SecretStreamError("an encrypted frame is shorter than its tag") }
        var status: Int32 = 0
        let plaintext = [UInt8](unsafeUninitializedCapacity: ciphertext.count - SecretStreamSender.overhead) { out, count in
            var length: UInt64 = 0
            var tag: UInt8 = 0
            status = crypto_secretstream_xchacha20poly1305_pull(
                state, out.baseAddress, &length, &tag,
                ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ciphertext.count), nil, 0)
            count = status == 0 ? Int(length) : 0
        }
        guard status == 0 else { throw SecretStreamError("an encrypted frame does not authenticate") }
        return plaintext
    }
}

/// An encrypted stream failed: the connection cannot be trusted any longer.
public struct SecretStreamError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

import CSodium

/// An ephemeral X25519 key pair for one connection's key exchange
/// (libsodium `crypto_kx`). Made fresh per connection and dropped after the
/// handshake, so a stolen identity key cannot decrypt recorded sessions.
public struct EphemeralKeyExchange: Sendable {
    /// The public half, sent to the peer in the clear.
    public let publicKey: Bytes32
    private let secret: SecretBytes

    /// Makes a new random key pair.
    public init() {
        Sodium.ensureInitialized()
        var publicBytes = [UInt8](repeating: 0, count: Int(crypto_kx_PUBLICKEYBYTES))
        secret = SecretBytes(count: Int(crypto_kx_SECRETKEYBYTES)) { secretBuffer in
            publicBytes.withUnsafeMutableBufferPointer { pk in
                _ = crypto_kx_keypair(pk.baseAddress!, secretBuffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        publicKey = try! Bytes32(publicBytes)
    }

    /// The two directions' keys of a session with the peer whose ephemeral
    /// public key is `peer`. The side that opened the connection is the
    /// client. Fails when `peer` is not a usable X25519 point.
    public func sessionKeys(peer: Bytes32, isClient: Bool) throws(KeyExchangeError) -> SessionKeys {
        var status: Int32 = 0
        let receive = SecretBytes(count: Int(crypto_kx_SESSIONKEYBYTES)) { _ in }
        let transmit = SecretBytes(count: Int(crypto_kx_SESSIONKEYBYTES)) { _ in }
        receive.withUnsafeMutableBytes { rx in
            transmit.withUnsafeMutableBytes { tx in
                secret.withUnsafeBytes { sk in
                    publicKey.withUnsafeBytes { pk in
                        peer.withUnsafeBytes { peerPK in
                            let rxp = rx.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            let txp = tx.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            let pkp = pk.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            let skp = sk.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            let peerp = peerPK.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            status = isClient ? crypto_kx_client_session_keys(rxp, txp, pkp, skp, peerp)
                                : crypto_kx_server_session_keys(rxp, txp, pkp, skp, peerp)
                        }
                    }
                }
            }
        }
        guard status == 0 else { throw KeyExchangeError() }
        return SessionKeys(receive: receive, transmit: transmit)
    }
}

/// The peer's key-exchange public key was not acceptable.
public struct KeyExchangeError: Error, Sendable, CustomStringConvertible {
    public var description: String { "the peer's key-exchange public key is not acceptable" }
}

/// A session's two symmetric keys: one per direction.
public struct SessionKeys: Sendable {
    let receive: SecretBytes
    let transmit: SecretBytes
}

/// The device key file: a small text format, documented in docs/KEYS.md.
///
/// ```
/// # Kognita device key. Secret: keep this file mode 0600.
/// kognita-key v1
/// id d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a
/// seed 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60
/// ```
///
/// `seed` is the 32-byte Ed25519 seed (libsodium `crypto_sign_seed_keypair`,
/// RFC 8032's secret key); `id` is the public key it gives, stored so a damaged
/// or mismatched file is caught on load. Lines starting with `#` and blank
/// lines are ignored. The seed is parsed from bytes and never becomes a
/// `String`, and the buffers that held it are zeroed.
public enum KeyFile {
    /// The first line that is not a comment.
    public static let header = "kognita-key v1"
    /// Largest key file accepted, in bytes.
    public static let maxBytes = 4096

    /// The file's text for `key`.
    public static func encode(_ key: SigningKey) -> [UInt8] {
        let prefix = Array("# Kognita device key (Ed25519). Secret: keep this file mode 0600; anyone who reads it can spend from this device's account.\n\(header)\nid \(key.publicKey.hex)\nseed ".utf8)
        // Reserved up front so appending the seed never reallocates (which
        // would leave an unzeroed copy behind in freed memory).
        var text = [UInt8]()
        text.reserveCapacity(prefix.count + 2 * SigningKey.seedByteCount + 1)
        text.append(contentsOf: prefix)
        key.withUnsafeSeed { Hex.encode($0, into: &text) }
        text.append(UInt8(ascii: "\n"))
        return text
    }

    /// Parses the file's text; `source` names it in errors.
    public static func decode(_ text: [UInt8], source: String) throws(KeyFileError) -> SigningKey {
        var header = false
        var id: PublicKey?
        var seed: [UInt8]?
        defer { if seed != nil { seed!.withUnsafeMutableBytes { Sodium.zero($0) } } }
        for (number, line) in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let line = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            guard header else {
                guard line.elementsEqual(Self.header.utf8) else {
                    throw KeyFileError(source, "line \(number + 1): expected '\(Self.header)'; this is not a Kognita key file")
                }
                header = true
                continue
            }
            guard let space = line.firstIndex(of: UInt8(ascii: " ")) else {
                throw KeyFileError(source, "line \(number + 1): expected 'id <hex>' or 'seed <hex>'")
            }
            let name = line[..<space]
            let value = line[(space + 1)...]
            if name.elementsEqual("id".utf8) {
                guard id == nil else { throw KeyFileError(source, "line \(number + 1): 'id' appears twice") }
                do throws(HexError) { id = PublicKey(try Bytes32(hex: String(decoding: value, as: UTF8.self))) } catch {
                    throw KeyFileError(source, "line \(number + 1): id: \(error)")
                }
            } else if name.elementsEqual("seed".utf8) {
                guard seed == nil else { throw KeyFileError(source, "line \(number + 1): 'seed' appears twice") }
                do throws(HexError) {
                    var decoded = try Hex.decode(utf8: value)
                    guard decoded.count == SigningKey.seedByteCount else {
                        let count = decoded.count
                        decoded.withUnsafeMutableBytes { Sodium.zero($0) }
                        throw .wrongLength(expectedBytes: 32, actualBytes: count)
                    }
                    seed = decoded
                } catch {
                    throw KeyFileError(source, "line \(number + 1): seed: \(error)")
                }
            } else {
                // The entry is not echoed: a mistyped file may hold the secret there.
                throw KeyFileError(source, "line \(number + 1): unknown entry; a key file has only 'id' and 'seed' lines")
            }
        }
        guard header else { throw KeyFileError(source, "empty; expected a Kognita key file starting with '\(Self.header)'") }
        guard let seed else { throw KeyFileError(source, "no 'seed' line") }
        let key = try! SigningKey(seed: seed) // 32 bytes, checked above
        guard let id else { throw KeyFileError(source, "no 'id' line") }
        guard id == key.publicKey else {
            throw KeyFileError(source, "damaged: its id \(id.hex) does not match its seed (which gives \(key.publicKey.hex))")
        }
        return key
    }
}

/// A key file could not be used; the description says which file and why.
public struct KeyFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String

    /// An error about the key file named `source`.
    public init(_ source: String, _ message: String) {
        description = "key file \(source): \(message)"
    }
}

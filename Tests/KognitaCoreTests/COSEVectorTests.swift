import Testing
import KognitaCore
import KognitaTesting

/// The COSE working group's `eddsa-sig-01`, reproduced byte for byte.
@Suite("COSE-WG eddsa-sig-01")
struct COSEVectorTests {
    struct Vector: Decodable {
        let seed, public_key, protected, unprotected_kid, payload_text, to_be_signed, signature, message: String
    }
    let vector: Vector
    init() throws { vector = try Repository.vectors("cose-wg-eddsa-sig-01.json") }

    func hex(_ key: KeyPath<Vector, String>) -> [UInt8] { [UInt8](testHex: vector[keyPath: key]) }

    @Test("the RFC 8032 test-1 seed gives the published public key")
    func seedGivesPublicKey() throws {
        let key = try SigningKey(seed: hex(\.seed))
        #expect(key.publicKey.rawValue.bytes == hex(\.public_key))
    }

    @Test("ToBeSigned, signature and the whole message match the published bytes")
    func reproducesMessage() throws {
        let key = try SigningKey(seed: hex(\.seed))
        let payload = Array(vector.payload_text.utf8)
        let protected = hex(\.protected)
        #expect(COSESign1.toBeSigned(protected: protected, payload: payload) == hex(\.to_be_signed))

        let signature = COSESign1.sign(payload: payload, protected: protected, with: key)
        #expect(signature.bytes == hex(\.signature))

        let message = try COSESign1.encodeTagged(
            protected: protected,
            unprotected: .map([.init(.unsigned(4), .bytes(hex(\.unprotected_kid)))]),
            payload: payload, signature: signature.bytes)
        #expect(message == hex(\.message))
        #expect(key.publicKey.isValidSignature(signature, for: hex(\.to_be_signed)))
    }

    @Test("the published message decodes; its Sig_structure, rebuilt from what was decoded, verifies; a changed signature fails")
    func decodesAndRejectsTampering() throws {
        let value = try CBORValue(decoding: hex(\.message))
        guard case .tagged(18, .array(let items)) = value, items.count == 4,
              case .bytes(let protected) = items[0], case .bytes(let payload) = items[2],
              case .bytes(let signatureBytes) = items[3] else {
            Issue.record("not a COSE_Sign1_Tagged array: \(value)"); return
        }
        let toBeSigned = COSESign1.toBeSigned(protected: protected, payload: payload)
        #expect(toBeSigned == hex(\.to_be_signed))
        let key = try PublicKey(bytes: hex(\.public_key))
        #expect(key.isValidSignature(try Signature(bytes: signatureBytes), for: toBeSigned))
        var tampered = signatureBytes
        tampered[0] ^= 1
        #expect(!key.isValidSignature(try Signature(bytes: tampered), for: toBeSigned))
    }
}

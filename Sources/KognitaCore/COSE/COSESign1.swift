/// COSE algorithms the contract knows.
public enum COSEAlgorithm: Int64, Sendable, Hashable, CustomStringConvertible {
    /// EdDSA (RFC 9053); the contract's algorithm, always emitted.
    case edDSA = -8
    /// Ed25519 (RFC 9864), accepted on input.
    case ed25519 = -19

    /// The protected header bucket `{1: alg}` as CBOR bytes.
    public var protectedHeader: [UInt8] {
        switch self {
        case .edDSA: [0xA1, 0x01, 0x27]
        case .ed25519: [0xA1, 0x01, 0x32]
        }
    }

    public var description: String {
        switch self {
        case .edDSA: "EdDSA (-8)"
        case .ed25519: "Ed25519 (-19)"
        }
    }
}

/// COSE_Sign1 (RFC 9052 section 4.2) building blocks, independent of what is
/// signed: the Sig_structure and the tagged message layout.
public enum COSESign1 {
    /// The CBOR tag of COSE_Sign1_Tagged.
    public static let tag: UInt64 = 18
    /// Header label of `alg`.
    public static let algLabel: UInt64 = 1
    /// Header label of `kid`.
    public static let kidLabel: UInt64 = 4

    /// The bytes that are signed: `["Signature1", protected, external_aad, payload]`.
    public static func toBeSigned(protected: [UInt8], externalAAD: [UInt8] = [], payload: ArraySlice<UInt8>) -> [UInt8] {
        var writer = CBORWriter(reservingCapacity: payload.count + protected.count + externalAAD.count + 24)
        writer.writeArrayHeader(4)
        writer.writeText("Signature1")
        writer.writeBytes(protected)
        writer.writeBytes(externalAAD)
        writer.writeBytes(payload)
        return writer.bytes
    }

    /// `toBeSigned` for a whole payload array.
    public static func toBeSigned(protected: [UInt8], externalAAD: [UInt8] = [], payload: [UInt8]) -> [UInt8] {
        toBeSigned(protected: protected, externalAAD: externalAAD, payload: payload[...])
    }

    /// Encodes `18([protected, unprotected, payload, signature])`.
    public static func encodeTagged(protected: [UInt8], unprotected: CBORValue, payload: [UInt8], signature: [UInt8]) throws(CBORError) -> [UInt8] {
        var writer = CBORWriter(reservingCapacity: payload.count + protected.count + signature.count + 64)
        writer.writeTag(tag)
        writer.writeArrayHeader(4)
        writer.writeBytes(protected)
        try unprotected.write(to: &writer)
        writer.writeBytes(payload)
        writer.writeBytes(signature)
        return writer.bytes
    }

    /// Signs `payload` with Ed25519 under the given protected header bytes and
    /// returns the signature over the Sig_structure.
    public static func sign(payload: [UInt8], protected: [UInt8], externalAAD: [UInt8] = [], with key: SigningKey) -> Signature {
        key.signature(for: toBeSigned(protected: protected, externalAAD: externalAAD, payload: payload))
    }
}

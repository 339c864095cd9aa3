/// A batch in its signed envelope (COSE_Sign1_Tagged), decoded and verified.
///
/// The only ways to get one are ``verify(_:expectedNetwork:)``, which checks
/// every rule of the contract over the bytes as received, and
/// ``sign(_:with:)``. So holding a `SignedBatch` means holding an authentic,
/// well-formed batch.
public struct SignedBatch: Sendable, Hashable {
    /// The envelope exactly as received or produced: what goes on the wire.
    public let envelope: [UInt8]
    /// The payload bytes (the encoded batch) exactly as signed.
    public let payload: [UInt8]
    /// The batch id: BLAKE2b-256 of ``payload``.
    public let id: BatchID
    /// The device that signed it (the kid), which is the debited account.
    public let signer: AccountID
    /// The algorithm named in the protected header.
    public let algorithm: COSEAlgorithm
    /// The Ed25519 signature.
    public let signature: Signature
    /// The decoded batch.
    public let batch: Batch

    /// Decodes and verifies an envelope.
    ///
    /// Order of checks: size limits first, then the envelope structure, then
    /// the batch rules, then the signature over the received bytes (never
    /// re-encoded), then the network. So `wrong-network` is only ever said of
    /// an authentic batch, and junk is refused before any public-key work.
    public static func verify(_ envelope: [UInt8], expectedNetwork: NetworkID? = nil) throws(ProtocolError) -> SignedBatch {
        guard envelope.count <= ProtocolLimits.maxEnvelopeBytes else {
            throw ProtocolError(.tooLarge, nil, "envelope is \(envelope.count) bytes; the limit is \(ProtocolLimits.maxEnvelopeBytes) (a 64 KiB batch plus its COSE_Sign1 wrapping)")
        }
        var reader = try FieldReader(envelope, maxInputSize: ProtocolLimits.maxEnvelopeBytes, field: "envelope")
        let tag = try reader.tag("envelope")
        guard tag == COSESign1.tag else { throw .malformed("envelope", "tag \(tag) is not COSE_Sign1 (tag 18)") }
        guard try reader.arrayHeader("envelope") == 4 else {
            throw .malformed("envelope", "COSE_Sign1 is an array of 4 items [protected, unprotected, payload, signature]")
        }

        let protectedRange = try reader.byteStringRange("envelope.protected")
        let protected = envelope[protectedRange]
        let algorithm: COSEAlgorithm
        if protected.elementsEqual(COSEAlgorithm.edDSA.protectedHeader) {
            algorithm = .edDSA
        } else if protected.elementsEqual(COSEAlgorithm.ed25519.protectedHeader) {
            algorithm = .ed25519
        } else {
            throw .malformed("envelope.protected", "protected header must be exactly {1: -8} (A1 01 27) or {1: -19} (A1 01 32); got \(Hex.encode(protected))")
        }

        var previous: UInt64? = nil
        guard try reader.mapHeader("envelope.unprotected") == 1,
              try reader.key(after: &previous, "envelope.unprotected") == COSESign1.kidLabel
        else { throw .malformed("envelope.unprotected", "unprotected header must be exactly {4: kid}") }
        let signer = AccountID(try reader.bytes32("envelope.unprotected.kid"))

        // Peek at the payload length so an oversize batch is named as such.
        let payloadRange = try reader.byteStringRange("envelope.payload")
        guard payloadRange.count <= ProtocolLimits.maxBatchBytes else {
            throw ProtocolError(.tooLarge, "envelope.payload", "encoded batch is \(payloadRange.count) bytes; the limit is \(ProtocolLimits.maxBatchBytes)")
        }
        let signatureRange = try reader.byteStringRange("envelope.signature")
        guard signatureRange.count == Signature.byteCount else {
            throw .malformed("envelope.signature", "signature is \(signatureRange.count) bytes; Ed25519 signatures are 64")
        }
        try reader.expectEnd("envelope")

        let payload = Array(envelope[payloadRange])
        let batch = try Batch(decoding: payload)
        let signature = try! Signature(bytes: envelope[signatureRange]) // length checked above

        let signed = COSESign1.toBeSigned(protected: Array(protected), payload: payload)
        guard signer.isValidSignature(signature, for: signed) else {
            throw ProtocolError(.badSignature, "envelope.signature", "Ed25519 signature does not verify for kid \(signer.hex)")
        }
        // A registration is signed by the node key too: its consent to act for this account.
        for (index, operation) in batch.operations.enumerated() {
            if case .register(let registration) = operation, !registration.isSigned(network: batch.network, account: signer) {
                throw ProtocolError(.badSignature, "batch.operations[\(index)].signature",
                                    "the node key \(registration.node.hex) did not sign this registration for account \(signer.hex) on \(batch.network)")
            }
        }
        if let expectedNetwork, batch.network != expectedNetwork {
            throw ProtocolError(.wrongNetwork, "batch.network", "batch is for network \"\(batch.network)\"; this is \"\(expectedNetwork)\"")
        }
        return SignedBatch(envelope: envelope, payload: payload, id: BatchID(payload: payload),
                           signer: signer, algorithm: algorithm, signature: signature, batch: batch)
    }

    /// Encodes, signs and wraps `batch` with alg EdDSA (-8) and kid = the key's public key.
    public static func sign(_ batch: Batch, with key: SigningKey) throws(ProtocolError) -> SignedBatch {
        let payload = try batch.encoded()
        let protected = COSEAlgorithm.edDSA.protectedHeader
        let signature = COSESign1.sign(payload: payload, protected: protected, with: key)
        let envelope = try! COSESign1.encodeTagged( // a fixed one-entry map cannot fail to encode
            protected: protected,
            unprotected: .map([.init(.unsigned(COSESign1.kidLabel), .bytes(key.publicKey.rawValue.bytes))]),
            payload: payload,
            signature: signature.bytes)
        return SignedBatch(envelope: envelope, payload: payload, id: BatchID(payload: payload),
                           signer: key.publicKey, algorithm: .edDSA, signature: signature, batch: batch)
    }

    private init(envelope: [UInt8], payload: [UInt8], id: BatchID, signer: AccountID,
                 algorithm: COSEAlgorithm, signature: Signature, batch: Batch) {
        self.envelope = envelope
        self.payload = payload
        self.id = id
        self.signer = signer
        self.algorithm = algorithm
        self.signature = signature
        self.batch = batch
    }
}

extension SignedBatch {
    /// The batch id (and seq, when the payload decodes) of an envelope that
    /// failed verification, so a rejection can name the batch it refuses.
    /// Nothing here is trusted: it only labels an answer.
    public static func peekIdentity(_ envelope: [UInt8]) -> (id: BatchID, seq: UInt64?)? {
        guard envelope.count <= ProtocolLimits.maxEnvelopeBytes,
              var reader = try? CBORReader(envelope, limits: CBORLimits(maxInputSize: ProtocolLimits.maxEnvelopeBytes)),
              (try? reader.readTag()) == COSESign1.tag, (try? reader.readArrayHeader(maxCount: 4)) == 4,
              (try? reader.readByteStringRange()) != nil, (try? reader.skipContractItem()) != nil,
              let payloadRange = try? reader.readByteStringRange(), payloadRange.count <= ProtocolLimits.maxBatchBytes
        else { return nil }
        let payload = Array(envelope[payloadRange])
        return (BatchID(payload: payload), try? Batch(decoding: payload).seq)
    }
}

import KognitaCore

extension Certificate {
    /// The largest encoded certificate accepted (it fits the Ack's cert field).
    public static let maxEncodedBytes = Ack.maxCertificateBytes

    /// Deterministic CBOR: `{0: batch id, 1: network, 2: epoch, 3: [[validator,
    /// count, index, [path...], signature], ...], 4: account}`. This is what a `final`
    /// ack's `cert` field carries.
    public func encoded() -> [UInt8] {
        var writer = CBORWriter(reservingCapacity: 128 + signers.count * (140 + 33 * 10))
        writer.writeMapHeader(5)
        writer.writeUnsigned(0); writer.writeBytes(batch.id.rawValue)
        writer.writeUnsigned(1); writer.writeText(network.rawValue)
        writer.writeUnsigned(2); writer.writeUnsigned(epoch)
        writer.writeUnsigned(3); writer.writeArrayHeader(signers.count)
        for signer in signers { signer.write(to: &writer) }
        writer.writeUnsigned(4); writer.writeBytes(batch.account.rawValue)
        return writer.bytes
    }

    /// Decodes strictly (deterministic CBOR, every field present, nothing
    /// else, sizes bounded). Decoding proves nothing: call ``verify(for:)``.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        guard bytes.count <= Self.maxEncodedBytes else { throw LedgerError("a certificate of \(bytes.count) bytes is over the limit") }
        do {
            self = try Self.parse(bytes)
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("the certificate is not well-formed CBOR: \(error)")
        }
    }

    private static func parse(_ bytes: [UInt8]) throws -> Certificate {
        var reader = try CBORReader(bytes)
        guard try reader.readMapHeader(maxCount: 5) == 5 else { throw LedgerError("a certificate map has exactly 5 fields") }
        var key: UInt64? = nil
        guard try reader.readMapKey(after: &key) == 0 else { throw LedgerError("certificate field 0 (batch id) is missing") }
        let id = BatchID(try reader.readBytes32())
        guard try reader.readMapKey(after: &key) == 1 else { throw LedgerError("certificate field 1 (network) is missing") }
        let networkText = try reader.readText(maxBytes: NetworkID.maxLength)
        guard let network = try? NetworkID(networkText) else { throw LedgerError("certificate network '\(networkText)' is not a network id") }
        guard try reader.readMapKey(after: &key) == 2 else { throw LedgerError("certificate field 2 (epoch) is missing") }
        let epoch = try reader.readUnsigned()
        guard try reader.readMapKey(after: &key) == 3 else { throw LedgerError("certificate field 3 (signers) is missing") }
        let count = try reader.readArrayHeader(maxCount: Committee.maxValidators)
        var signers: [Signer] = []
        signers.reserveCapacity(count)
        for _ in 0..<count { signers.append(try Signer.read(from: &reader)) }
        guard try reader.readMapKey(after: &key) == 4 else { throw LedgerError("certificate field 4 (account) is missing") }
        let account = AccountID(try reader.readBytes32())
        try reader.expectEnd()
        let certificate = Certificate(batch: BatchKey(account: account, id: id), network: network, epoch: epoch, signers: signers)
        // Canonical order is part of the encoding: re-sorting must change nothing.
        guard certificate.signers.map(\.validator) == signers.map(\.validator) else {
            throw LedgerError("the certificate's signers are not in canonical order")
        }
        return certificate
    }
}

extension Certificate.Signer {
    /// CBOR `[validator, count, index, [path...], signature]`: one vote's
    /// proof for one batch (in certificates and in seal reports' samples).
    func write(to writer: inout CBORWriter) {
        writer.writeArrayHeader(5)
        writer.writeBytes(validator.rawValue)
        writer.writeUnsigned(UInt64(count))
        writer.writeUnsigned(UInt64(index))
        writer.writeArrayHeader(path.count)
        for hash in path { writer.writeBytes(hash) }
        writer.writeBytes(signature.bytes)
    }

    /// Reads what ``write(to:)`` writes, with the shape bounded (1 to 1024
    /// leaves, the index inside them, at most 11 path hashes).
    static func read(from reader: inout CBORReader) throws -> Certificate.Signer {
        guard try reader.readArrayHeader(maxCount: 5) == 5 else { throw LedgerError("a vote's proof has exactly 5 fields: [validator, count, index, path, signature]") }
        let validator = PublicKey(try reader.readBytes32())
        let leaves = try reader.readUnsigned()
        let index = try reader.readUnsigned()
        guard leaves >= 1, leaves <= UInt64(Vote.maxBatches), index < leaves else { throw LedgerError("a vote's proof has a vote shape out of range") }
        var path: [Bytes32] = []
        for _ in 0..<(try reader.readArrayHeader(maxCount: 11)) { path.append(try reader.readBytes32()) } // log2(1024) + 1
        guard let signature = try? Signature(bytes: try reader.readByteString()) else { throw LedgerError("a vote's signature is not 64 bytes") }
        return Certificate.Signer(validator: validator, count: UInt32(leaves), index: UInt32(index), path: path, signature: signature)
    }
}

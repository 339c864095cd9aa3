import KognitaCore

/// One record of the spool journal.
///
/// On disk: `"KS"` magic (2 bytes), type (1), payload length (u32 LE),
/// CRC-32C of type, length and payload (u32 LE), then the payload: a
/// deterministic CBOR map. The magic lets a reader find the next intact
/// record after a damaged one; the CRC tells intact from damaged.
enum SpoolRecord: Sendable, Equatable {
    /// A signed batch entering the spool, with the rule state right after the
    /// transfers it carries were produced (so a restart neither loses nor
    /// re-pays that consumption).
    case batch(envelope: [UInt8], ruleState: [UInt8])
    /// The network said this batch is final: it may be compacted away.
    case final(id: BatchID)
    /// A batch the network refused as malformed or bad-signature: kept aside
    /// for a person to look at, never resent.
    case setAside(id: BatchID, reason: String)
    /// A re-chain, all or nothing: these batches leave the chain, it continues
    /// at (nextSeq, prev), and these replacement batches (the same transfers,
    /// re-signed) follow. One record, so a crash cannot lose the transfers
    /// between taking the old batches out and spooling their replacements.
    case rechained(superseded: [BatchID], nextSeq: UInt64, prev: BatchID, replacements: [[UInt8]])
    /// Written by compaction: how far the network is proven to be.
    case proven(nextSeq: UInt64)
    /// Written last by compaction: the chain position and rule state, which
    /// may come from batches that were compacted away.
    case checkpoint(nextSeq: UInt64, prev: BatchID, ruleState: [UInt8])

    static let magic: [UInt8] = [0x4B, 0x53]
    static let headerSize = 2 + 1 + 4 + 4
    /// No fixed cap when reading: a record's length is checked against the
    /// bytes actually in the file, and a re-chain record may be large.
    static let maxPayload = Int(Int32.max)

    /// The first payload byte each record type starts with (its CBOR map
    /// header), by type code. A scan checks it before the CRC, so a stray
    /// magic in damaged bytes rarely costs a checksum over the rest of the file.
    static let payloadStart: [UInt8: UInt8] = [1: 0xA2, 2: 0xA1, 5: 0xA2, 6: 0xA3, 7: 0xA4, 8: 0xA1]

    var typeCode: UInt8 {
        switch self {
        case .batch: 1
        case .final: 2
        case .setAside: 5
        case .checkpoint: 6
        case .rechained: 7
        case .proven: 8
        }
    }

    /// On-disk size of a `.batch` record with empty rule state, computed
    /// without encoding (compaction asks for it on every final ack).
    static func batchRecordSize(envelopeBytes n: Int) -> Int {
        let head = n < 24 ? 1 : n < 0x100 ? 2 : n < 0x1_0000 ? 3 : 5
        return headerSize + 1 + 1 + head + n + 1 + 1
    }

    /// The record's bytes as they go to disk.
    func encoded() -> [UInt8] {
        var w = CBORWriter()
        switch self {
        case .batch(let envelope, let ruleState):
            w.writeMapHeader(2)
            w.writeUnsigned(0); w.writeBytes(envelope)
            w.writeUnsigned(1); w.writeBytes(ruleState)
        case .final(let id):
            w.writeMapHeader(1)
            w.writeUnsigned(0); w.writeBytes(id.rawValue)
        case .setAside(let id, let reason):
            w.writeMapHeader(2)
            w.writeUnsigned(0); w.writeBytes(id.rawValue)
            w.writeUnsigned(1); w.writeText(reason)
        case .proven(let nextSeq):
            w.writeMapHeader(1)
            w.writeUnsigned(0); w.writeUnsigned(nextSeq)
        case .rechained(let ids, let nextSeq, let prev, let replacements):
            w.writeMapHeader(4)
            w.writeUnsigned(0); w.writeArrayHeader(ids.count)
            for id in ids { w.writeBytes(id.rawValue) }
            w.writeUnsigned(1); w.writeUnsigned(nextSeq)
            w.writeUnsigned(2); w.writeBytes(prev.rawValue)
            w.writeUnsigned(3); w.writeArrayHeader(replacements.count)
            for envelope in replacements { w.writeBytes(envelope) }
        case .checkpoint(let nextSeq, let prev, let ruleState):
            w.writeMapHeader(3)
            w.writeUnsigned(0); w.writeUnsigned(nextSeq)
            w.writeUnsigned(1); w.writeBytes(prev.rawValue)
            w.writeUnsigned(2); w.writeBytes(ruleState)
        }
        let payload = w.bytes
        var header = Self.magic
        header.append(typeCode)
        header.append(contentsOf: littleEndian(UInt32(payload.count)))
        let crc = CRC32C.checksum(payload, continuing: CRC32C.checksum(header[2...]))
        header.append(contentsOf: littleEndian(crc))
        return header + payload
    }

    /// Decodes a record's payload; nil if it does not parse (treated as damage).
    static func decode(type: UInt8, payload: [UInt8]) -> SpoolRecord? {
        guard let value = try? CBORValue(decoding: payload) else { return nil }
        func bytes32(_ v: CBORValue?) -> BatchID? {
            guard case .bytes(let b)? = v, let raw = try? Bytes32(b) else { return nil }
            return BatchID(raw)
        }
        switch type {
        case 1:
            guard case .bytes(let envelope)? = value[0], case .bytes(let state)? = value[1] else { return nil }
            return .batch(envelope: envelope, ruleState: state)
        case 2:
            return bytes32(value[0]).map { .final(id: $0) }
        case 5:
            guard let id = bytes32(value[0]), case .text(let reason)? = value[1] else { return nil }
            return .setAside(id: id, reason: reason)
        case 8:
            guard case .unsigned(let next)? = value[0] else { return nil }
            return .proven(nextSeq: next)
        case 7:
            guard case .array(let idItems)? = value[0], case .unsigned(let next)? = value[1], let prev = bytes32(value[2]),
                  case .array(let envelopeItems)? = value[3] else { return nil }
            let ids = idItems.compactMap { bytes32($0) }
            let envelopes = envelopeItems.compactMap { item -> [UInt8]? in if case .bytes(let b) = item { b } else { nil } }
            guard ids.count == idItems.count, envelopes.count == envelopeItems.count else { return nil }
            return .rechained(superseded: ids, nextSeq: next, prev: prev, replacements: envelopes)
        case 6:
            guard case .unsigned(let next)? = value[0], let prev = bytes32(value[1]),
                  case .bytes(let state)? = value[2] else { return nil }
            return .checkpoint(nextSeq: next, prev: prev, ruleState: state)
        default:
            return nil
        }
    }
}

func littleEndian(_ value: UInt32) -> [UInt8] {
    [UInt8(value & 0xff), UInt8(value >> 8 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 24)]
}

func readLittleEndian(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var value: UInt32 = 0
    for (shift, byte) in zip(stride(from: 0, to: 32, by: 8), bytes) { value |= UInt32(byte) << UInt32(shift) }
    return value
}

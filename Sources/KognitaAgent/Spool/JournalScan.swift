/// What reading a journal found: the intact records in order, and the byte
/// ranges that were damaged (torn by a crash or corrupted on the medium).
struct JournalScan {
    var records: [SpoolRecord] = []
    /// Damaged byte ranges, in file order.
    var damaged: [Range<Int>] = []

    /// Whether the only damage is a torn tail (the usual crash case).
    var damageIsTornTail: Bool { damaged.count == 1 }

    /// Scans `bytes`. A damaged stretch ends where the next intact record
    /// begins (found by its magic, a known type whose payload starts as that
    /// type's do, and a matching CRC), so one bad record never costs the good
    /// ones after it.
    static func scan(_ bytes: [UInt8]) -> JournalScan {
        var scan = JournalScan()
        var position = 0
        while position < bytes.count {
            if let (record, length) = intactRecord(in: bytes, at: position) {
                scan.records.append(record)
                position += length
                continue
            }
            var next = position + 1
            while next < bytes.count && intactRecord(in: bytes, at: next) == nil { next += 1 }
            scan.damaged.append(position..<next)
            position = next
        }
        return scan
    }

    /// The record starting at `offset` and its total length, if it is intact.
    static func intactRecord(in bytes: [UInt8], at offset: Int) -> (SpoolRecord, Int)? {
        let header = SpoolRecord.headerSize
        guard bytes.count - offset >= header,
              bytes[offset] == SpoolRecord.magic[0], bytes[offset + 1] == SpoolRecord.magic[1] else { return nil }
        let type = bytes[offset + 2]
        let length = Int(readLittleEndian(bytes[(offset + 3)..<(offset + 7)]))
        guard length <= SpoolRecord.maxPayload, bytes.count - offset - header >= length,
              length > 0, SpoolRecord.payloadStart[type] == bytes[offset + header] else { return nil }
        let expected = readLittleEndian(bytes[(offset + 7)..<(offset + 11)])
        let payloadRange = (offset + header)..<(offset + header + length)
        let crc = CRC32C.checksum(bytes[payloadRange], continuing: CRC32C.checksum(bytes[(offset + 2)..<(offset + 7)]))
        guard crc == expected, let record = SpoolRecord.decode(type: type, payload: Array(bytes[payloadRange])) else { return nil }
        return (record, header + length)
    }
}

import Testing
@testable import KognitaAgent
import KognitaCore

@Suite("Spool record sizes")
struct SpoolRecordSizeTests {
    @Test("the computed size of a batch record equals its encoded size at every CBOR length boundary",
          arguments: [0, 23, 24, 255, 256, 65_535, 65_536, 65_649])
    func batchRecordSize(envelopeBytes: Int) {
        let record = SpoolRecord.batch(envelope: [UInt8](repeating: 7, count: envelopeBytes), ruleState: [])
        #expect(SpoolRecord.batchRecordSize(envelopeBytes: envelopeBytes) == record.encoded().count)
    }

    @Test("every record type's payload starts with the byte a scan looks for before the CRC; an intact record is found after damage",
          arguments: SpoolRecordSizeTests.everyKind)
    func payloadStart(record: SpoolRecord) {
        let bytes = record.encoded()
        #expect(SpoolRecord.payloadStart[record.typeCode] == bytes[SpoolRecord.headerSize])
        let scan = JournalScan.scan([0x4B, 0x53, 0x01, 0x00] + bytes)
        #expect(scan.records == [record] && scan.damaged == [0..<4])
    }

    static let id = BatchID(BLAKE2b256.hash([1, 2, 3]))
    static let everyKind: [SpoolRecord] = [
        .batch(envelope: [1, 2, 3], ruleState: []),
        .final(id: id),
        .setAside(id: id, reason: "malformed"),
        .rechained(superseded: [], nextSeq: 4, prev: id, replacements: []),
        .rechained(superseded: [id], nextSeq: 4, prev: id, replacements: [[9, 9]]),
        .proven(nextSeq: 7),
        .checkpoint(nextSeq: 3, prev: id, ruleState: [5]),
    ]
}

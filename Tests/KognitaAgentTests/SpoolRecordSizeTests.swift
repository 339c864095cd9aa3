import Testing
@testable import KognitaAgent

@Suite("Spool record sizes")
struct SpoolRecordSizeTests {
    @Test("the computed size of a batch record equals its encoded size at every CBOR length boundary",
          arguments: [0, 23, 24, 255, 256, 65_535, 65_536, 65_649])
    func batchRecordSize(envelopeBytes: Int) {
        let record = SpoolRecord.batch(envelope: [UInt8](repeating: 7, count: envelopeBytes), ruleState: [])
        #expect(SpoolRecord.batchRecordSize(envelopeBytes: envelopeBytes) == record.encoded().count)
    }
}

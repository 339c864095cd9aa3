import Testing
import KognitaAgent

@Suite("Agent status rendering")
struct AgentStatusTests {
    @Test("every field of the status JSON comes back in order, with its value")
    func fieldsRoundTrip() {
        var status = AgentStatus()
        status.device = "ab12"
        status.network = "kognita-devnet"
        status.pendingBatches = 3
        status.lastFinalSeq = 41
        status.holding = nil
        status.transfersProduced = 1_000
        let fields = AgentStatus.fields(inJSON: status.json)
        #expect(fields.map { $0.key } == ["device", "network", "broker_connected", "pending_batches", "pending_transfers",
                                      "open_transfers", "last_final_seq", "balance", "spool_bytes", "spool_full",
                                      "set_aside", "holding", "last_error", "transfers_produced", "batches_final", "updated_at"])
        let byKey: [String: String] = Dictionary(uniqueKeysWithValues: fields.map { ($0.key, $0.value) })
        #expect(byKey["device"] == "ab12")
        #expect(byKey["pending_batches"] == "3")
        #expect(byKey["last_final_seq"] == "41")
        #expect(byKey["holding"] == "null")
        #expect(byKey["broker_connected"] == "false")
        #expect(byKey["transfers_produced"] == "1000")
    }

    @Test("separators and quotes inside a string value stay in the value")
    func separatorsInsideStrings() {
        var status = AgentStatus()
        status.lastError = "batch 7 set aside: \"bad-signature\", seq: 7,\"key\":1\nsee the log"
        let fields = AgentStatus.fields(inJSON: status.json)
        #expect(fields.count == 16)
        let lastError = fields.first { $0.key == "last_error" }?.value
        #expect(lastError == "batch 7 set aside: \"bad-signature\", seq: 7,\"key\":1 see the log")
    }

    @Test("a control character stays escaped, so it cannot reach the terminal")
    func controlCharactersStayEscaped() {
        var status = AgentStatus()
        status.lastError = "sensor \u{1B}[2J id"
        let lastError = AgentStatus.fields(inJSON: status.json).first { $0.key == "last_error" }?.value
        #expect(lastError == "sensor \\u001b[2J id")
    }
}

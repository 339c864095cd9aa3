import KognitaCore
import KognitaSystem

/// What `kognita-agent status` shows; written atomically to the status file.
public struct AgentStatus: Sendable, Equatable {
    public var device = ""
    public var network = ""
    public var brokerConnected = false
    public var pendingBatches = 0
    public var pendingTransfers = 0
    public var openTransfers = 0
    public var lastFinalSeq: UInt64?
    public var balance: UInt64?
    public var spoolBytes = 0
    public var spoolFull = false
    public var setAside = 0
    public var holding: String?
    public var lastError: String?
    public var transfersProduced: UInt64 = 0
    public var batchesFinal: UInt64 = 0
    public var updatedAt: UInt64 = 0

    /// The status as a JSON object (keys in a fixed order).
    public var json: String {
        func str(_ s: String?) -> String { s.map(JSONText.string) ?? "null" }
        func num(_ n: UInt64?) -> String { n.map(String.init) ?? "null" }
        return "{" + [
            "\"device\":\(str(device))", "\"network\":\(str(network))", "\"broker_connected\":\(brokerConnected)",
            "\"pending_batches\":\(pendingBatches)", "\"pending_transfers\":\(pendingTransfers)", "\"open_transfers\":\(openTransfers)",
            "\"last_final_seq\":\(num(lastFinalSeq))", "\"balance\":\(num(balance))", "\"spool_bytes\":\(spoolBytes)",
            "\"spool_full\":\(spoolFull)", "\"set_aside\":\(setAside)", "\"holding\":\(str(holding))", "\"last_error\":\(str(lastError))",
            "\"transfers_produced\":\(transfersProduced)", "\"batches_final\":\(batchesFinal)", "\"updated_at\":\(updatedAt)",
        ].joined(separator: ",") + "}\n"
    }
}

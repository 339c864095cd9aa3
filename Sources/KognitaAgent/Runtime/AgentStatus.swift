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

    /// An empty status: nothing pending, nothing known yet.
    public init() {}

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

    /// The fields of a flat JSON object such as `json`, in order: each key and
    /// its value as text, strings unquoted and escapes resolved (a line break
    /// shows as a space; a `\u` escape stays as written). Reads the characters itself, so a comma or colon
    /// inside a string is not a separator, and the agent links no
    /// string-searching library for its one human-readable command.
    public static func fields(inJSON text: String) -> [(key: String, value: String)] {
        var fields: [(key: String, value: String)] = []
        var key = "", current = ""
        var inString = false, escaped = false, sawKey = false
        func finishField() {
            if sawKey { fields.append((key, current.trimmingWhitespace())) }
            key = ""; current = ""; sawKey = false
        }
        for character in text {
            if inString {
                if escaped {
                    switch character {
                    case "n", "r", "t": current.append(" ")
                    // JSONText writes control and bidi characters as \u
                    // escapes so they never reach a terminal raw: keep them so.
                    case "u": current.append("\\u")
                    default: current.append(character)
                    }
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inString = false
                } else {
                    current.append(character)
                }
                continue
            }
            switch character {
            case "\"": inString = true
            case ":" where !sawKey: key = current.trimmingWhitespace(); current = ""; sawKey = true
            case ",", "}": finishField()
            case "{", "\n", "\r": continue
            default: current.append(character)
            }
        }
        finishField()
        return fields
    }
}

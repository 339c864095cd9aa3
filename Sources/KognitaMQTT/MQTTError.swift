import CMosquitto

/// An MQTT operation failed; the description says what and what to do.
public struct MQTTError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String

    init(_ description: String) { self.description = description }

    /// A libmosquitto return code, with the operation that produced it.
    init(_ operation: String, code: Int32) {
        description = "\(operation): \(String(cString: mosquitto_strerror(code)))"
    }

    /// A broker's MQTT v5 reason code (>= 0x80 is a failure).
    static func refused(_ operation: String, reasonCode: Int32) -> MQTTError {
        MQTTError("\(operation) refused by the broker: \(String(cString: mosquitto_reason_string(reasonCode))) (reason code \(reasonCode))")
    }

    /// The client was stopped before the operation completed.
    static let stopped = MQTTError("the MQTT client was stopped before the operation completed")
}

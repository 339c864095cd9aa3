/// A protocol rule was broken: which contract reason applies, where in the
/// input (a field path such as `batch.transfers[3].amount`), and what is wrong.
public struct ProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The contract's reason code for this failure.
    public let reason: RejectReason
    /// Where the problem is, as a field path; nil when it concerns the whole input.
    public let field: String?
    /// What is wrong, in words.
    public let message: String

    /// A failure with its contract reason, the field at fault (nil: the whole input) and a message.
    public init(_ reason: RejectReason, _ field: String?, _ message: String) {
        self.reason = reason
        self.field = field
        self.message = message
    }

    /// Malformed input at `field`.
    static func malformed(_ field: String?, _ message: String) -> ProtocolError {
        ProtocolError(.malformed, field, message)
    }

    /// A CBOR decoding failure inside `field`.
    static func malformed(_ field: String, _ error: CBORError) -> ProtocolError {
        ProtocolError(.malformed, field, error.description)
    }

    public var description: String {
        if let field { "\(reason.name): \(field): \(message)" } else { "\(reason.name): \(message)" }
    }
}

/// Why the network refuses a batch: the contract's reason codes (Ack key 3).
public enum RejectReason: UInt64, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case malformed = 1
    case badSignature = 2
    case wrongNetwork = 3
    /// Another batch is final at this seq.
    case stale = 4
    /// The seq is beyond the account's next.
    case gap = 5
    case insufficientFunds = 6
    case notAuthorized = 7
    case tooLarge = 8
    case feeTooLow = 9
    /// Another batch holds this seq.
    case conflict = 10
    /// Retry later.
    case overloaded = 11

    /// The contract's name, e.g. `bad-signature`.
    public var name: String {
        switch self {
        case .malformed: "malformed"
        case .badSignature: "bad-signature"
        case .wrongNetwork: "wrong-network"
        case .stale: "stale"
        case .gap: "gap"
        case .insufficientFunds: "insufficient-funds"
        case .notAuthorized: "not-authorized"
        case .tooLarge: "too-large"
        case .feeTooLow: "fee-too-low"
        case .conflict: "conflict"
        case .overloaded: "overloaded"
        }
    }

    /// Looks a reason up by its contract name.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    public var description: String { name }
}

/// A protocol rule was broken: which contract reason applies, where in the
/// input (a field path such as `batch.transfers[3].amount`), and what is wrong.
public struct ProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The contract's reason code for this failure.
    public let reason: RejectReason
    /// Where the problem is, as a field path; nil when it concerns the whole input.
    public let field: String?
    /// What is wrong, in words.
    public let message: String

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

/// The contract's size and count limits.
public enum ProtocolLimits {
    /// Largest encoded batch (the COSE payload), in bytes.
    public static let maxBatchBytes = 64 * 1024
    /// Most transfers in one batch.
    public static let maxTransfers = 1024
    /// Longest sensor id, in UTF-8 bytes.
    public static let maxSensorBytes = 64
    /// Bytes a COSE_Sign1 envelope adds around the largest payload: tag (1),
    /// array head (1), protected header (4), unprotected `{4: kid}` (36),
    /// payload head (5), signature (66).
    public static let envelopeOverhead = 113
    /// Largest COSE_Sign1 envelope that can hold a valid batch, in bytes.
    public static let maxEnvelopeBytes = maxBatchBytes + envelopeOverhead
}

/// Why the network refuses a batch: the contract's reason codes (Ack key 3).
public enum RejectReason: UInt64, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Not well-formed, not deterministic, or breaks a rule of the batch format.
    case malformed = 1
    /// The Ed25519 signature does not verify under the kid.
    case badSignature = 2
    /// The batch is for another network.
    case wrongNetwork = 3
    /// Another batch is final at this seq.
    case stale = 4
    /// The seq is beyond the account's next.
    case gap = 5
    /// The balance does not cover the amounts and the fee.
    case insufficientFunds = 6
    /// The signer may not act here (e.g. kid is not the topic's device).
    case notAuthorized = 7
    /// Over a size or count limit.
    case tooLarge = 8
    /// The fee is below what the network requires.
    case feeTooLow = 9
    /// Another batch holds this seq.
    case conflict = 10
    /// Retry later.
    case overloaded = 11
    /// Version 2: the bonded stake does not cover an unbond, or is below the
    /// network's minimum for a registration. Never sent for a version-1 batch.
    case insufficientBond = 12

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
        case .insufficientBond: "insufficient-bond"
        }
    }

    public var description: String { name }
}

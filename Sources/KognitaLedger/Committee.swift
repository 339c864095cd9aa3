import KognitaCore

/// A validator of an epoch's committee: its identity key and voting weight.
public struct Validator: Sendable, Hashable {
    /// The validator's Ed25519 identity; votes are signed with it.
    public let id: PublicKey
    /// Voting weight (at least 1).
    public let weight: UInt64

    public init(id: PublicKey, weight: UInt64) {
        self.id = id
        self.weight = weight
    }
}

/// Who votes in one epoch of one network, and how much weight a quorum needs.
public struct Committee: Sendable {
    public let network: NetworkID
    public let epoch: UInt64
    /// Sorted by id; no id twice.
    public let validators: [Validator]
    public let totalWeight: UInt64
    /// More than 2/3 of the total weight: with 3f+1 equal weights, 2f+1.
    public let quorumWeight: UInt64
    private let weights: [PublicKey: UInt64]

    /// The largest committee a certificate may name (it bounds decoding work).
    public static let maxValidators = 256

    /// Fails when the list is empty or too long, names a validator twice, has
    /// a zero weight, or its total weight could overflow.
    public init(network: NetworkID, epoch: UInt64, validators: [Validator]) throws(LedgerError) {
        guard !validators.isEmpty, validators.count <= Self.maxValidators else {
            throw LedgerError("a committee has 1 to \(Self.maxValidators) validators, not \(validators.count)")
        }
        var weights: [PublicKey: UInt64] = [:]
        var total: UInt64 = 0
        for validator in validators {
            guard validator.weight >= 1 else { throw LedgerError("validator \(validator.id) has weight 0") }
            guard weights.updateValue(validator.weight, forKey: validator.id) == nil else {
                throw LedgerError("validator \(validator.id) is listed twice")
            }
            let (sum, overflow) = total.addingReportingOverflow(validator.weight)
            guard !overflow, sum <= UInt64.max / 2 else { throw LedgerError("the committee's total weight is too large") }
            total = sum
        }
        self.network = network
        self.epoch = epoch
        self.validators = validators.sorted { $0.id < $1.id }
        self.weights = weights
        totalWeight = total
        quorumWeight = total * 2 / 3 + 1
    }

    /// The weight of `id`, or nil when it is not a member.
    public func weight(of id: PublicKey) -> UInt64? { weights[id] }

    /// Whether `id` is a member.
    public func contains(_ id: PublicKey) -> Bool { weights[id] != nil }
}

/// A ledger rule or a configuration that does not hold, said plainly.
public struct LedgerError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

import KognitaCore

/// The staking side of an account: bonded stake, stake on its way back, and
/// its validator candidate. Only accounts that ever bonded have one, so the
/// ~80 bytes of a plain account stay as they are.
public struct Stake: Sendable, Hashable {
    /// Stake that weighs in elections and can be slashed.
    public var bonded: UInt64 = 0
    /// Stake unbonded and not yet spendable (see ``EpochRules/evidenceEpochs``).
    public var unbonding: UInt64 = 0
    /// The epoch of the latest unbond: the evidence window runs from the
    /// later of it and ``lastSeated``.
    public var unbondedIn: UInt64 = 0
    /// The account's validator candidate, once registered.
    public var candidate: Registration?
    /// The last epoch whose committee seated the candidate's node.
    public var lastSeated: UInt64?

    public init(bonded: UInt64 = 0, unbonding: UInt64 = 0, unbondedIn: UInt64 = 0,
                candidate: Registration? = nil, lastSeated: UInt64? = nil) {
        self.bonded = bonded
        self.unbonding = unbonding
        self.unbondedIn = unbondedIn
        self.candidate = candidate
        self.lastSeated = lastSeated
    }

    /// Whether the entry holds nothing and can be forgotten.
    public var isEmpty: Bool { bonded == 0 && unbonding == 0 && candidate == nil && lastSeated == nil }
}

/// The epoch settings genesis fixes for the life of a network.
public struct EpochRules: Sendable, Hashable {
    /// How long an epoch lasts, in milliseconds of the leader's clock (see docs/EPOCHS.md).
    public var epochMillis: UInt64
    /// The most seats on a committee (at least 4).
    public var committeeSize: Int
    /// For how many epochs after an epoch evidence of misbehaviour in it is
    /// accepted; unbonded stake waits as long after its validator's last seat.
    public var evidenceEpochs: UInt64
    /// The least bonded stake a candidate must hold to register and to be seated.
    public var minimumBond: Amount
    /// How far ahead of a validator's own clock a proposed checkpoint time may be.
    public var maxClockSkewMillis: UInt64

    public static let defaultEpochSeconds: UInt64 = 3600
    public static let defaultCommitteeSize = 16
    public static let defaultEvidenceEpochs: UInt64 = 2
    public static let minimumCommitteeSize = 4

    public init(epochMillis: UInt64 = defaultEpochSeconds * 1000, committeeSize: Int = defaultCommitteeSize,
                evidenceEpochs: UInt64 = defaultEvidenceEpochs, minimumBond: Amount = Amount(1),
                maxClockSkewMillis: UInt64 = 2_000) {
        self.epochMillis = epochMillis
        self.committeeSize = committeeSize
        self.evidenceEpochs = evidenceEpochs
        self.minimumBond = minimumBond
        self.maxClockSkewMillis = maxClockSkewMillis
    }
}

import KognitaCore

/// The numbers of self-governance (docs/ECONOMICS.md): how a validator's
/// work is measured and rated, how seats are given, how fees are shared.
/// Pure integer arithmetic, so that every node and an independent script
/// (Tests/Interop/recompute_ratings.py) reach the same figures bit for bit.
public enum GovernanceRules {
    /// Ratings and measures are in permille: 1000 is perfect.
    public static let full: UInt64 = 1000
    /// How many of a validator's last seated epochs its rating looks at.
    public static let window = 10
    /// Each permille of work missed costs this many permille of rating,
    /// while a rating recovers only as bad epochs leave the window (one per
    /// epoch off the committee, or one per ``window`` epochs on it): penalties
    /// weigh several times the gains, as MultiversX found they must.
    public static let penaltyFactor: UInt64 = 4
    /// The least rating a candidate needs to be elected.
    public static let electable: UInt64 = 700
    /// The rating of a node with no record (a newcomer, or one whose record
    /// has healed away): electable, below a proven validator's 1000.
    public static let probation: UInt64 = 750
    /// One seat in this many (rounded down) goes by lottery among qualified
    /// candidates outside the committee.
    public static let lotteryDivisor = 5
    /// Of every batch fee: the share paid at once to the bridge the device
    /// named as the one delivering it (version-3 batches; kept in the pool
    /// when no bridge is named).
    public static let bridgePermille: UInt64 = 150
    /// Of every batch fee: burned, so that a device, a bridge and a
    /// validator dealing among themselves always lose money.
    public static let burnPermille: UInt64 = 100
    /// Of every batch fee: reserved for relays (a later issue); burned until
    /// relays exist.
    public static let relayPermille: UInt64 = 50
    /// The share of a validator's stake (bonded and unbonding) that a proof
    /// of equivocation burns.
    public static let slashPermille: UInt64 = 500
    /// How many final batches of an epoch each validator samples, in secret,
    /// to report the votes it received for them (``InclusionSampler``).
    public static let samplesPerReport = 24
    /// A handover that took this many agreement rounds or more (repeated
    /// view changes, by the median of the reporters) marks the epoch it
    /// opened as failed by the network as a whole: nobody is rated for it.
    public static let failedHandoverRound: UInt32 = 2
    /// The weight of batch votes in an epoch's measure; the rest is the
    /// validator's own seal report, its signature on the checkpoint's making.
    public static let voteWeightTenths: UInt64 = 9

    /// A rating from the measures in a validator's window (oldest first):
    /// its single worst epoch is forgiven (a one-off outage), the rest's
    /// average miss costs ``penaltyFactor`` times as much rating. A validator that misses 10% in every epoch falls to
    /// 640, below ``electable``, after two epochs; one cut off for one epoch
    /// in ten stays at 1000.
    public static func rating(window measures: [UInt64]) -> UInt64 {
        guard !measures.isEmpty else { return probation }
        let misses = measures.map { full - min($0, full) }.sorted()
        let kept = misses.dropLast()
        guard !kept.isEmpty else { return full }
        let penalty = penaltyFactor * kept.reduce(0, +) / UInt64(kept.count)
        return penalty >= full ? 0 : full - penalty
    }

    /// An epoch's measure of one validator: the share of sampled final
    /// batches whose vote by it reached the reporters (nil: no reporter had
    /// a sample to judge it by, counted as full), weighted nine to one with
    /// whether its own seal report made it into the checkpoint.
    public static func measure(votes: UInt64?, reported: Bool) -> UInt64 {
        (voteWeightTenths * min(votes ?? full, full) + (10 - voteWeightTenths) * (reported ? full : 0)) / 10
    }

    /// How a batch fee of `fee` divides: to the named bridge, burned (burn
    /// and relay reserve), and into the pool the checkpoint pays validators from.
    public static func split(fee: UInt64, hasBridge: Bool) -> (bridge: UInt64, burned: UInt64, pool: UInt64) {
        let bridge = hasBridge ? UInt64(UInt128(fee) * UInt128(bridgePermille) / UInt128(full)) : 0
        let burned = UInt64(UInt128(fee) * UInt128(burnPermille + relayPermille) / UInt128(full))
        return (bridge, burned, fee - bridge - burned)
    }
}

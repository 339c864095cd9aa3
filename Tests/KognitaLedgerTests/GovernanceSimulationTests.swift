import Testing
import KognitaCore
import KognitaLedger

/// The economics simulation's properties (issue 16), over several seeds of
/// the 100-candidate, 21-seat, 50-epoch network `kognita sim governance`
/// runs by default.
@Suite("Governance simulation: 100 candidates, 21 seats, 50 epochs")
struct GovernanceSimulationTests {
    static let seeds: [UInt64] = Array(1...12)

    static func run(_ seed: UInt64) -> GovernanceSimulation.Report {
        var settings = GovernanceSimulation.Settings()
        settings.seed = seed
        return GovernanceSimulation.run(settings)
    }

    @Test("each behaviour gets what the rules promise", arguments: seeds)
    func properties(seed: UInt64) {
        let report = Self.run(seed)
        let f = report.findings
        // A lazy validator (10% of votes dropped) leaves within 3 epochs and stays out while its record lasts.
        #expect(f.lazyLongestStay.count == 3)
        for stay in f.lazyLongestStay { #expect(stay <= 3, "seed \(seed): a lazy validator sat \(stay) epochs in a row") }
        #expect(!f.lazyReturned, "seed \(seed)")
        // Cut off for one epoch in ten: never rated out for it.
        #expect(!f.cutOffVotedOut, "seed \(seed): lowest rating \(f.cutOffLowestRating)")
        // The equivocator is slashed and off the very next committee.
        #expect(f.equivocatorSlashed)
        #expect(f.equivocatorOutFrom == f.equivocatedAt + 1, "seed \(seed)")
        let equivocator = report.validators.first { $0.behaviour == .equivocating }!
        #expect(equivocator.stake == 1_000_000, "half of its 2,000,000 bond is burned")
        // A third of the reporters leaving an honest validator's votes out costs it at most 50 permille (documented bound).
        #expect(f.collusionRatingLoss <= 50, "seed \(seed)")
        // Qualified newcomers are seated within 5 epochs (at least 90% of them).
        #expect(f.newcomersSeatedWithin5 >= 0.9, "seed \(seed): waits \(f.newcomerWaits)")
        // Equally performing honest validators are paid alike.
        #expect(f.honestRewardGini <= 0.05, "seed \(seed)")
        // Self-dealing loses at least 10% of the fees it pays.
        #expect(f.selfDealingFees > 0)
        #expect(f.selfDealingNetLossShare >= 0.10, "seed \(seed)")
        // Nobody is rated in the epoch the network failed as a whole.
        #expect(report.epochs.filter(\.failed).map(\.epoch) == [30, 40])
        let honest = report.validators.first { $0.behaviour == .honest && $0.seated.contains(30) }!
        #expect(honest.ratings[30] == honest.ratings[29])
    }

    @Test("money is conserved: every fee is paid out, burned or still in the pool")
    func conservation() {
        let report = Self.run(7)
        let s = report.settings
        let fees = UInt64(s.epochs) * (s.feesPerEpoch + s.selfDealingFeesPerEpoch)
        let bridges = report.findings.selfDealingBridgeIncome + UInt64(s.epochs) * GovernanceRules.split(fee: s.feesPerEpoch, hasBridge: true).bridge
        let paid = report.validators.reduce(UInt64(0)) { $0 + $1.rewards }
        let slashed = report.validators.filter(\.slashed).count * 1_000_000
        let last = report.epochs.last!
        #expect(paid + bridges + last.burned - UInt64(slashed) + last.pool == fees)
        #expect(report.epochs.reduce(UInt64(0)) { $0 + $1.paid } == paid)
    }

    @Test("the same seed gives the same report")
    func deterministic() {
        #expect(Self.run(3) == Self.run(3))
        #expect(Self.run(3) != Self.run(4))
    }
}

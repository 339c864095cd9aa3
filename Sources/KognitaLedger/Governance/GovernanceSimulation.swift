import KognitaCore

/// The economics simulation behind `kognita sim governance`: many
/// candidates with different behaviours, run epoch after epoch through the
/// node's own governance code (``Inclusion``, ``RatingBook``, ``Election``,
/// ``EpochRewards``, ``GovernanceRules``), with the votes and the reporters'
/// secret samples modelled rather than signed. Pure and seeded: one seed
/// gives one report.
///
/// Behaviours (docs/ECONOMICS.md, "The simulation"): honest; lazy (drops
/// 10% of its votes every epoch); cut off for one whole epoch in ten;
/// equivocating (signs two rival votes once, and is reported); colluding (a
/// third of the committee leaves one honest validator's votes out of their
/// samples); the target of that collusion; newcomers (register part-way);
/// a self-dealing group (a device paying fees through its owner's bridge,
/// whose owner also validates). One epoch, the 30th, the network as a
/// whole certifies nothing; the handover into the 40th takes repeated view
/// changes. Nobody is rated for either.
public struct GovernanceSimulation: Sendable {
    public struct Settings: Sendable, Codable, Hashable {
        public var validators = 100
        public var seats = 21
        public var epochs = 50
        public var seed: UInt64 = 1
        /// Fees that honest devices pay per epoch, in base units.
        public var feesPerEpoch: UInt64 = 10_000_000
        /// Fees the self-dealing group's device pays per epoch, through the group's bridge.
        public var selfDealingFeesPerEpoch: UInt64 = 2_000_000
        public init() {}
    }

    public enum Behaviour: String, Sendable, Codable, Hashable {
        case honest, lazy, cutOff = "cut-off", equivocating, colluding, target, newcomer, selfDealing = "self-dealing"
    }

    public struct ValidatorSummary: Sendable, Codable, Hashable {
        public var index: Int
        public var node: String
        public var behaviour: Behaviour
        public var stake: UInt64
        /// The epoch its registration counts from (0 for the genesis candidates).
        public var registeredAt: Int
        /// The epochs it sat in.
        public var seated: [Int]
        /// Its rating after each checkpoint.
        public var ratings: [UInt64]
        public var rewards: UInt64
        public var slashed: Bool
    }

    public struct EpochSummary: Sendable, Codable, Hashable {
        public var epoch: Int
        public var committee: Int
        /// Nothing was certified: nobody was rated for this epoch.
        public var failed: Bool
        public var pool: UInt64
        public var paid: UInt64
        public var burned: UInt64
    }

    public struct Findings: Sendable, Codable, Hashable {
        /// Per lazy validator: its longest run of consecutive epochs on the
        /// committee (each time it sits, it is voted out within this many).
        public var lazyLongestStay: [Int]
        /// Whether a lazy validator sat again while its poor record stood.
        public var lazyReturned: Bool
        /// Whether a validator cut off for an epoch was rated below electable for it.
        /// (Seats also rotate through the lottery; that is not being voted out.)
        public var cutOffVotedOut: Bool
        /// The lowest rating a cut-off validator had.
        public var cutOffLowestRating: UInt64
        /// The epoch the equivocator signed two rival votes in (its first seated epoch from the 4th).
        public var equivocatedAt: Int
        /// The first epoch whose committee left the equivocator out.
        public var equivocatorOutFrom: Int?
        public var equivocatorSlashed: Bool
        /// 1000 minus the lowest rating the collusion target had (how much the colluders cost it).
        public var collusionRatingLoss: UInt64
        /// Per newcomer: epochs from registering to its first seat (nil: never within the run).
        public var newcomerWaits: [Int?]
        /// The share of newcomers seated within 5 epochs.
        public var newcomersSeatedWithin5: Double
        /// Gini coefficient of the rewards of the honest validators that sat in every epoch with equal stakes.
        public var honestRewardGini: Double
        /// The self-dealing group: fees its device paid, what its bridge earned, what its
        /// validator earned beyond a run without the device, and its net loss as a share of the fees.
        public var selfDealingFees: UInt64
        public var selfDealingBridgeIncome: UInt64
        public var selfDealingExtraValidatorReward: UInt64
        public var selfDealingNetLossShare: Double
    }

    public struct Report: Sendable, Codable, Hashable {
        public var settings: Settings
        public var findings: Findings
        public var epochs: [EpochSummary]
        public var validators: [ValidatorSummary]
    }

    /// Runs the simulation, and again without the self-dealing device, to
    /// measure what the group's own fees brought it back.
    public static func run(_ settings: Settings) -> Report {
        var world = World(settings: settings, selfDealing: true)
        var report = world.run()
        var controlWorld = World(settings: settings, selfDealing: false)
        let control = controlWorld.run()
        let group = report.validators.firstIndex { $0.behaviour == GovernanceSimulation.Behaviour.selfDealing }
        if let group {
            let extra = report.validators[group].rewards > control.validators[group].rewards
                ? report.validators[group].rewards - control.validators[group].rewards : 0
            report.findings.selfDealingExtraValidatorReward = extra
            let fees = report.findings.selfDealingFees
            let back = Double(report.findings.selfDealingBridgeIncome + extra)
            report.findings.selfDealingNetLossShare = fees == 0 ? 0 : (Double(fees) - back) / Double(fees)
        }
        return report
    }

    /// Gini coefficient of `values` (0: all equal).
    public static func gini(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let total = values.reduce(0, +)
        guard total > 0 else { return 0 }
        var sum = 0.0
        for a in values { for b in values { sum += abs(a - b) } }
        return sum / (2 * Double(values.count * values.count) * (total / Double(values.count)))
    }
}

extension GovernanceSimulation {
    /// One run's state.
    struct World {
        let settings: Settings
        let selfDealing: Bool
        var random: Random
        var behaviours: [Behaviour] = []
        var nodes: [PublicKey] = []
        var registeredAt: [Int] = []
        var cutOffPhase: [Int: Int] = [:]
        var stakes: [AccountID: Stake] = [:]
        var book = RatingBook()
        var rewards: [UInt64] = []
        var seated: [[Int]] = []
        var ratings: [[UInt64]] = []
        var pool: UInt64 = 0
        var burned: UInt64 = 0
        var bridgeIncome: UInt64 = 0
        var selfDealingFees: UInt64 = 0
        let network = try! NetworkID("kognita-sim")
        let equivocatesAt = 4
        let failedEpoch = 30
        /// The handover into this epoch takes repeated view changes.
        let failedHandover = 40

        init(settings: Settings, selfDealing: Bool) {
            self.settings = settings
            self.selfDealing = selfDealing
            random = Random(seed: settings.seed)
            let n = max(settings.validators, settings.seats + 12)
            let seats = settings.seats
            let colluders = seats / 3
            let newcomers = min(10, n - seats - 1)
            for index in 0..<n {
                let behaviour: Behaviour
                switch index {
                case 0..<3: behaviour = .lazy
                case 3..<6: behaviour = .cutOff
                case 6: behaviour = .equivocating
                case 7: behaviour = .target
                case 8: behaviour = .selfDealing
                case 9..<(9 + colluders) where index < seats: behaviour = .colluding
                case (n - newcomers)...: behaviour = .newcomer
                default: behaviour = .honest
                }
                behaviours.append(behaviour)
                var bytes = [UInt8]("kognita-sim-node-\(index)".utf8)
                bytes += withUnsafeBytes(of: settings.seed.bigEndian, Array.init)
                nodes.append(PublicKey(BLAKE2b256.hash(bytes)))
                // Newcomers register one every two epochs from epoch 20, once the
                // genesis candidates have each had a lottery seat.
                let newcomerNumber = index - (n - newcomers)
                registeredAt.append(behaviour == .newcomer ? 20 + 2 * newcomerNumber : 0)
                if behaviour == .cutOff { cutOffPhase[index] = (index - 3) * 3 + 2 }
                // The genesis committee's members hold equal stakes; the others less, at random.
                let stake: UInt64 = index < seats ? 2_000_000 : 1_000_000 + random.below(900_000)
                let registration = Registration(node: nodes[index], addresses: ["10.0.0.\(index % 250):7401"], nodeSignature: try! Signature(bytes: [UInt8](repeating: 0, count: 64)))
                stakes[nodes[index]] = Stake(bonded: stake, candidate: registration, lastSeated: index < seats ? 0 : nil)
            }
            rewards = Array(repeating: 0, count: n)
            seated = Array(repeating: [], count: n)
            ratings = Array(repeating: [], count: n)
        }

        func online(_ index: Int, _ epoch: Int) -> Bool {
            guard let phase = cutOffPhase[index] else { return true }
            return epoch % 10 != phase
        }

        mutating func run() -> Report {
            let n = nodes.count
            let indexOf = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1, $0) })
            let genesisStakes = (0..<settings.seats).map { stakes[nodes[$0]]!.bonded }
            var committee = try! Committee(network: network, epoch: 0, validators: zip(0..<settings.seats, Election.cappedWeights(genesisStakes))
                .map { Validator(id: nodes[$0], weight: $1) })
            var epochs: [EpochSummary] = []
            let rules = EpochRules(committeeSize: settings.seats)
            let target = behaviours.firstIndex(of: .target)
            var slashedAt: [Int: Int] = [:]
            var everSlashed: Set<Int> = []
            for epoch in 0..<settings.epochs {
                let members = committee.validators.map { indexOf[$0.id]! }
                for member in members { seated[member].append(epoch) }
                // Fees: honest devices name a bridge; the group's device names the group's bridge.
                var epochPool: UInt64 = 0
                let honest = GovernanceRules.split(fee: settings.feesPerEpoch, hasBridge: true)
                epochPool += honest.pool
                burned += honest.burned
                if selfDealing {
                    let own = GovernanceRules.split(fee: settings.selfDealingFeesPerEpoch, hasBridge: true)
                    epochPool += own.pool
                    burned += own.burned
                    bridgeIncome += own.bridge
                    selfDealingFees += settings.selfDealingFeesPerEpoch
                }
                pool += epochPool
                // Each online reporter's secret sample of final batches, and whose votes it holds.
                var shares: [PublicKey: [UInt64]] = [:]
                var reported: Set<PublicKey> = []
                for reporter in members where online(reporter, epoch) {
                    reported.insert(nodes[reporter])
                    for voter in members where voter != reporter {
                        var found = 0
                        for _ in 0..<GovernanceRules.samplesPerReport {
                            var present = online(voter, epoch)
                            if behaviours[voter] == .lazy && random.below(1000) < 100 { present = false }
                            if behaviours[reporter] == .colluding && voter == target { present = false }
                            if present { found += 1 }
                        }
                        shares[nodes[voter], default: []].append(UInt64(found) * GovernanceRules.full / UInt64(GovernanceRules.samplesPerReport))
                    }
                }
                let failed = epoch == failedEpoch || epoch == failedHandover
                let measures = failed ? nil : Inclusion.measures(shares: shares, reported: reported, committee: committee)
                // The equivocator signs two rival votes while seated; anyone's proof slashes it at this checkpoint.
                var slashed: Set<PublicKey> = []
                for member in members where behaviours[member] == .equivocating && epoch >= equivocatesAt && !everSlashed.contains(member) {
                    slashed.insert(nodes[member])
                    everSlashed.insert(member)
                    slashedAt[member] = epoch
                    var stake = stakes[nodes[member]]!
                    let cut = UInt64(UInt128(stake.bonded) * UInt128(GovernanceRules.slashPermille) / UInt128(GovernanceRules.full))
                    stake.bonded -= cut
                    burned += cut
                    stakes[nodes[member]] = stake
                }
                var owners: [PublicKey: AccountID] = [:]
                for member in members { owners[nodes[member]] = nodes[member] }
                let paid = EpochRewards.compute(pool: pool, committee: committee, measures: measures, accounts: owners)
                for payout in paid.payouts { rewards[indexOf[payout.node]!] += payout.amount }
                pool -= paid.total
                book = book.advanced(committee: committee, measures: measures, slashed: slashed)
                for index in 0..<n { ratings[index].append(book.rating(of: nodes[index])) }
                epochs.append(EpochSummary(epoch: epoch, committee: members.count, failed: failed, pool: pool, paid: paid.total, burned: burned))
                // The election: registered candidates that are online and caught up.
                let attested = Set((0..<n).filter { registeredAt[$0] <= epoch + 1 && online($0, epoch) }.map { nodes[$0] })
                let registeredStakes = stakes.filter { registeredAt[indexOf[$0.key]!] <= epoch + 1 }
                var seed = [UInt8]("kognita-sim-checkpoint-\(epoch)".utf8)
                seed += withUnsafeBytes(of: settings.seed.bigEndian, Array.init)
                committee = Election.nextCommittee(stakes: registeredStakes, current: committee, attested: attested, rules: rules,
                                                   ratings: book, seed: BLAKE2b256.hash(seed)) ?? committee
                for validator in committee.validators { stakes[validator.id]?.lastSeated = UInt64(epoch + 1) }
            }
            return Report(settings: settings, findings: findings(slashedAt: slashedAt), epochs: epochs, validators: (0..<n).map { index in
                ValidatorSummary(index: index, node: nodes[index].hex, behaviour: behaviours[index], stake: stakes[nodes[index]]!.bonded,
                                 registeredAt: registeredAt[index], seated: seated[index], ratings: ratings[index], rewards: rewards[index],
                                 slashed: book.isSlashed(nodes[index]))
            })
        }

        func findings(slashedAt: [Int: Int]) -> Findings {
            let n = nodes.count
            var lazyReturned = false
            let lazy = (0..<n).filter { behaviours[$0] == .lazy }.map { index -> Int in
                // Rated unelectable after a checkpoint: not seated in the next epoch.
                for (checkpoint, rating) in ratings[index].enumerated() where rating < GovernanceRules.electable {
                    if seated[index].contains(checkpoint + 1) { lazyReturned = true }
                }
                var longest = 0, run = 0, previous = -2
                for epoch in seated[index] {
                    run = epoch == previous + 1 ? run + 1 : 1
                    longest = max(longest, run)
                    previous = epoch
                }
                return longest
            }
            let cutOffLowest = cutOffPhase.keys.flatMap { index in ratings[index].dropFirst() }.min() ?? GovernanceRules.full
            let equivocator = behaviours.firstIndex(of: .equivocating)!
            let slashEpoch = slashedAt[equivocator]
            let out = slashEpoch.flatMap { epoch in (epoch + 1..<settings.epochs).first { !seated[equivocator].contains($0) } }
            let target = behaviours.firstIndex(of: .target)!
            let targetLow = ratings[target].enumerated().filter { seated[target].contains($0.offset) }.map(\.element).min() ?? GovernanceRules.full
            let newcomers = (0..<n).filter { behaviours[$0] == .newcomer && registeredAt[$0] < settings.epochs }
            let waits = newcomers.map { index -> Int? in seated[index].first.map { $0 - registeredAt[index] } }
            let within = newcomers.isEmpty ? 1 : Double(waits.filter { ($0 ?? .max) <= 5 }.count) / Double(newcomers.count)
            let steady = (0..<n).filter { behaviours[$0] == .honest && seated[$0].count == settings.epochs }
            return Findings(lazyLongestStay: lazy, lazyReturned: lazyReturned,
                            cutOffVotedOut: cutOffLowest < GovernanceRules.electable, cutOffLowestRating: cutOffLowest,
                            equivocatedAt: slashEpoch ?? equivocatesAt,
                            equivocatorOutFrom: out, equivocatorSlashed: slashEpoch != nil,
                            collusionRatingLoss: GovernanceRules.full - min(targetLow, GovernanceRules.full),
                            newcomerWaits: waits, newcomersSeatedWithin5: within,
                            honestRewardGini: GovernanceSimulation.gini(steady.map { Double(rewards[$0]) }),
                            selfDealingFees: selfDealingFees, selfDealingBridgeIncome: bridgeIncome,
                            selfDealingExtraValidatorReward: 0, selfDealingNetLossShare: 0)
        }
    }

    /// SplitMix64: small, seeded, the same on every platform.
    struct Random {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: UInt64) -> UInt64 { next() % bound }
    }
}

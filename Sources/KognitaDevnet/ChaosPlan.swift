import KognitaSystem

/// What `kognita devnet --chaos SECONDS` does, as a pure state machine: when
/// to SIGKILL which component and when to start it again. Time goes in as
/// seconds since the load started; actions come out. No clock, no processes:
/// ``ChaosService`` (the devnet run) carries the actions out, and tests drive
/// it with made-up times.
///
/// - Kills come at random intervals of `meanInterval` ± 50%.
/// - The victim's kind is drawn first (validator, bridge, broker, real agent,
///   each as likely), then one of that kind that is up; so a run with one
///   broker and four validators still kills the broker about a quarter of the time.
/// - A killed component is started again `restartDelay` later, and counts as
///   down until the service says it is back (``ready(_:)``): a validator once
///   it has caught up, the broker once it takes connections, a bridge or an
///   agent once started. A component is never killed while down.
/// - At most `maxValidatorsDown` validators (f of 3f+1) are down at once:
///   a quorum must always be reachable.
public struct ChaosPlan: Sendable {
    /// One process of the devnet that chaos may kill.
    public enum Target: Hashable, Sendable, CustomStringConvertible {
        case validator(Int)
        case bridge(Int)
        case broker
        case agent(Int)

        /// The kind, for the report: "validator", "bridge", "broker", "agent".
        public var kind: String {
            switch self {
            case .validator: "validator"
            case .bridge: "bridge"
            case .broker: "broker"
            case .agent: "agent"
            }
        }

        public var description: String {
            switch self {
            case .validator(let index): "validator-\(index + 1)"
            case .bridge(let index): "bridge-\(index + 1)"
            case .broker: "broker"
            case .agent(let index): "agent-\(index + 1)"
            }
        }
    }

    /// What to do now.
    public enum Action: Hashable, Sendable {
        case kill(Target)
        case restart(Target)
    }

    public let meanInterval: Double
    public let restartDelay: Double
    public let maxValidatorsDown: Int
    private let targets: [String: [Target]]
    private var random: SplitMix64
    private var nextKillAt: Double
    /// Killed and not yet restarted, with when to restart.
    private var restartAt: [Target: Double] = [:]
    /// Components restarted and not yet back (see ``ready(_:)``).
    private var recovering: Set<Target> = []
    /// Kills so far, by kind.
    public private(set) var kills: [String: Int] = [:]
    /// Whether new kills are made (the drain stops them).
    public private(set) var stopped = false

    /// `validators`, `bridges` and `agents` count the components of each kind;
    /// there is one broker. The first kill comes about one interval after 0.
    public init(meanInterval: Double, restartDelay: Double = 1, validators: Int, bridges: Int, agents: Int, seed: UInt64) {
        precondition(meanInterval > 0 && restartDelay >= 0)
        self.meanInterval = meanInterval
        self.restartDelay = restartDelay
        maxValidatorsDown = (validators - 1) / 3
        var targets: [String: [Target]] = [
            "validator": (0..<validators).map(Target.validator),
            "bridge": (0..<bridges).map(Target.bridge),
            "broker": [.broker],
            "agent": (0..<agents).map(Target.agent),
        ]
        targets = targets.filter { !$0.value.isEmpty }
        if maxValidatorsDown == 0 { targets["validator"] = nil }
        self.targets = targets
        random = SplitMix64(seed: seed)
        nextKillAt = 0
        nextKillAt = nextInterval()
    }

    /// Components down now (killed and not restarted, or restarted and not yet back).
    public var down: Set<Target> { Set(restartAt.keys).union(recovering) }

    /// Total kills so far.
    public var totalKills: Int { kills.values.reduce(0, +) }

    /// The actions due at `now`: restarts first, then at most one kill.
    public mutating func advance(to now: Double) -> [Action] {
        var actions: [Action] = []
        for (target, at) in restartAt.sorted(by: { $0.value < $1.value }) where at <= now {
            restartAt[target] = nil
            recovering.insert(target)
            actions.append(.restart(target))
        }
        guard !stopped, now >= nextKillAt else { return actions }
        nextKillAt = now + nextInterval()
        if let victim = pickVictim() {
            restartAt[victim] = now + restartDelay
            kills[victim.kind, default: 0] += 1
            actions.append(.kill(victim))
        }
        return actions
    }

    /// A restarted component is back (a validator caught up, the broker taking
    /// connections, a bridge or an agent started): it no longer counts as down.
    public mutating func ready(_ target: Target) { recovering.remove(target) }

    /// No more kills; what is down is still restarted when due.
    public mutating func stop() { stopped = true }

    /// The earliest time something is due (a restart, or the next kill).
    public var nextDue: Double {
        let restart = restartAt.values.min() ?? .infinity
        return stopped ? restart : min(restart, nextKillAt)
    }

    private mutating func nextInterval() -> Double { meanInterval * Double.random(in: 0.5..<1.5, using: &random) }

    private mutating func pickVictim() -> Target? {
        let down = self.down
        let validatorsDown = down.filter { if case .validator = $0 { true } else { false } }.count
        var kinds: [String] = []
        for kind in targets.keys.sorted() {
            let up = targets[kind]!.filter { !down.contains($0) }
            if up.isEmpty { continue }
            if kind == "validator" && validatorsDown >= maxValidatorsDown { continue }
            kinds.append(kind)
        }
        guard !kinds.isEmpty else { return nil }
        let kind = kinds.randomElement(using: &random)!
        let up = targets[kind]!.filter { !down.contains($0) }
        return up.randomElement(using: &random)
    }
}

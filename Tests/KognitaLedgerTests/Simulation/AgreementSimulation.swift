import KognitaCore
import KognitaLedger
import KognitaSystem
import KognitaTesting

/// A deterministic simulation of one checkpoint agreement, in the manner of
/// FoundationDB's simulator and TigerBeetle's VOPR: every validator's
/// ``CheckpointAgreement`` in one process, a simulated clock, and a network
/// that delays, reorders, duplicates, drops and partitions messages, all
/// driven by one seed. Byzantine validators equivocate (two proposals, two
/// votes), withhold, and replay old messages.
///
/// The same seed gives the same run, message for message, so a failure
/// replays from the seed it prints.
struct AgreementSimulation {
    struct Options {
        var validators = 4
        var byzantine = 1
        /// Before this time links drop and partitions hold; after it every
        /// message between connected honest nodes arrives within ``maxDelay``.
        var stabilizeAt: UInt64 = 3_000
        var maxDelay: UInt64 = 40
        var dropRate = 0.15
        var duplicateRate = 0.05
        var partitioned = true
        /// The run ends here; every honest validator must have decided.
        var horizon: UInt64 = 60_000
        /// Link latency after stabilisation for the figure runs (20 ms links).
        var fixedLatency: UInt64? = nil
    }

    enum Behaviour: Equatable { case honest, equivocate, silent, replay }

    /// What a run found.
    struct Outcome {
        var decisions: [Int: SignedCheckpoint] = [:]
        var decidedAt: [Int: UInt64] = [:]
        var violations: [String] = []
        var messages = 0
        var honest: [Int] = []
    }

    let seed: UInt64
    let options: Options
    var random: SplitMix64
    var keys: [SigningKey] = []
    var committee: Committee
    var behaviours: [Behaviour] = []
    var machines: [CheckpointAgreement] = []
    var now: UInt64 = 0
    /// Pending deliveries and timers.
    var queue = SimulatedEvents<Scheduled>()
    /// Which side of the partition each node is on (until stabilisation).
    var side: [Int] = []
    var history: [CheckpointAgreement.Message] = []
    var outcome = Outcome()
    let previous = BLAKE2b256.hash([UInt8]("genesis".utf8))

    enum Scheduled {
        case deliver(to: Int, CheckpointAgreement.Message)
        case decision(to: Int, SignedCheckpoint)
        case timer(node: Int, CheckpointAgreement.Timeout)
        case resend(node: Int)
        case start(node: Int)
    }

    init(seed: UInt64, options: Options = Options()) {
        self.seed = seed
        self.options = options
        random = SplitMix64(seed: seed)
        for index in 0..<options.validators {
            var seedBytes = [UInt8](repeating: 0, count: 32)
            seedBytes[0] = UInt8(index); seedBytes[1] = 0x5e
            keys.append(try! SigningKey(seed: seedBytes))
        }
        committee = try! Committee(network: NetworkID("kognita-sim"), epoch: 3,
                                   validators: keys.map { Validator(id: $0.publicKey, weight: 1) })
        // Byzantine validators get a random misbehaviour each.
        var roles = Array(repeating: Behaviour.honest, count: options.validators)
        var order = Array(0..<options.validators)
        order.shuffle(using: &random)
        for index in order.prefix(options.byzantine) {
            roles[index] = [.equivocate, .silent, .replay].randomElement(using: &random)!
        }
        behaviours = roles
        // Machines are indexed like keys; committee order is by id.
        machines = keys.map { CheckpointAgreement(committee: committee, key: $0) }
        for index in machines.indices {
            machines[index].timeoutBaseMillis = 400
            machines[index].timeoutStepMillis = 200
        }
        side = (0..<options.validators).map { _ in Int(random.next() % 2) }
        outcome.honest = (0..<options.validators).filter { roles[$0] == .honest }
    }

    /// A header as validator `index` would propose it: honest leaders differ
    /// in their clocks, so rounds really choose between values.
    func header(by index: Int, valid: Bool = true) -> CheckpointHeader {
        CheckpointHeader(network: committee.network, epoch: committee.epoch, previous: previous,
                         timestamp: 1_000_000 + UInt64(index), stateRoot: valid ? BLAKE2b256.hash([UInt8(index)]) : .zero,
                         bodies: [], nextCommittee: committee.validators)
    }

    /// Honest nodes accept any header an honest node could build (a valid
    /// state root), and never the Byzantine invalid one (zero root).
    static func isValid(_ header: CheckpointHeader) -> Bool { header.stateRoot != .zero }

    mutating func schedule(_ event: Scheduled, after delay: UInt64) { queue.schedule(event, at: now + delay) }

    mutating func send(_ message: CheckpointAgreement.Message, from: Int, to: Int) {
        outcome.messages += 1
        if from == to { return schedule(.deliver(to: to, message), after: 0) }
        if now < options.stabilizeAt {
            if options.partitioned && side[from] != side[to] { return }
            if Double(random.next() % 10_000) / 10_000 < options.dropRate { return }
        }
        let delay = options.fixedLatency ?? (1 + random.next() % options.maxDelay)
        schedule(.deliver(to: to, message), after: delay)
        if Double(random.next() % 10_000) / 10_000 < options.duplicateRate {
            schedule(.deliver(to: to, message), after: delay + random.next() % options.maxDelay)
        }
    }

    mutating func broadcast(_ message: CheckpointAgreement.Message, from: Int) {
        history.append(message)
        for to in keys.indices { send(message, from: from, to: to) }
    }

    mutating func perform(_ actions: [CheckpointAgreement.Action], at node: Int) {
        for action in actions {
            switch action {
            case .broadcast(let message):
                broadcast(message, from: node)
            case .schedule(let timeout, let milliseconds):
                schedule(.timer(node: node, timeout), after: milliseconds)
            case .buildProposal(let round):
                let built = machines[node].handle(.proposalBuilt(header(by: node), round: round))
                perform(built, at: node)
            case .decided(let checkpoint):
                record(checkpoint, at: node)
                // The node tells everyone; whoever lags adopts the signed header.
                for to in keys.indices where to != node {
                    schedule(.decision(to: to, checkpoint), after: options.fixedLatency ?? (1 + random.next() % options.maxDelay))
                }
            }
        }
    }

    mutating func record(_ checkpoint: SignedCheckpoint, at node: Int) {
        guard behaviours[node] == .honest, outcome.decisions[node] == nil else { return }
        do throws(LedgerError) { try checkpoint.verify(for: committee) } catch {
            outcome.violations.append("node \(node) decided a checkpoint that does not verify: \(error)")
        }
        if !Self.isValid(checkpoint.header) { outcome.violations.append("node \(node) decided an invalid header") }
        outcome.decisions[node] = checkpoint
        outcome.decidedAt[node] = now
    }

    /// What a Byzantine node does instead of following the protocol.
    mutating func misbehave(_ node: Int, on message: CheckpointAgreement.Message) {
        switch behaviours[node] {
        case .honest, .silent:
            break
        case .replay:
            // Replays something old to a random node, and votes for junk.
            // (Never to itself, or one replay would feed the next forever.)
            if let old = history.randomElement(using: &random) {
                let to = Int(random.next() % UInt64(keys.count))
                if to != node { send(old, from: node, to: to) }
            }
        case .equivocate:
            // Votes both ways in the round it hears about, and as leader proposes two headers.
            // It reacts to honest votes only: its own forgeries and those of
            // a fellow equivocator would otherwise feed each other forever.
            let key = keys[node]
            guard case .vote(let vote) = message,
                  let voter = keys.firstIndex(where: { $0.publicKey == vote.validator }), behaviours[voter] == .honest else { return }
            for (offset, to) in keys.indices.enumerated() {
                let digest = offset % 2 == 0 ? vote.digest : header(by: node, valid: offset % 3 == 0).digest
                for kind in [CheckpointVote.Kind.prevote, .precommit] {
                    let forged = CheckpointVote.sign(kind, network: committee.network, epoch: committee.epoch, round: vote.round, digest: digest, with: key)
                    send(.vote(forged), from: node, to: to)
                }
            }
            let round = vote.round
            if machines[node].leader(of: round) == key.publicKey {
                for (offset, to) in keys.indices.enumerated() {
                    let proposal = CheckpointProposal.sign(header: header(by: node + offset, valid: offset % 2 == 0), round: round, validRound: nil, with: key)
                    send(.proposal(proposal), from: node, to: to)
                }
            }
        }
    }

    mutating func run() -> Outcome {
        // Clocks differ: each validator's epoch ends at a slightly different time.
        for node in keys.indices { schedule(.start(node: node), after: random.next() % 200) }
        for node in keys.indices { schedule(.resend(node: node), after: 300 + random.next() % 100) }
        while let (at, event) = queue.popEarliest() {
            guard at <= options.horizon else { break }
            now = at
            if outcome.honest.allSatisfy({ outcome.decisions[$0] != nil }) { break }
            switch event {
            case .start(let node):
                guard behaviours[node] == .honest else { continue }
                perform(machines[node].handle(.start), at: node)
            case .resend(let node):
                if behaviours[node] == .honest { perform(machines[node].handle(.resend), at: node) }
                schedule(.resend(node: node), after: 300)
            case .timer(let node, let timeout):
                guard behaviours[node] == .honest else { continue }
                perform(machines[node].handle(.timeout(timeout)), at: node)
            case .decision(let node, let checkpoint):
                guard behaviours[node] == .honest, outcome.decisions[node] == nil else { continue }
                // A node adopts a signed header only when it verifies against the committee.
                if (try? checkpoint.verify(for: committee)) != nil { record(checkpoint, at: node) }
            case .deliver(let node, let message):
                if behaviours[node] != .honest { misbehave(node, on: message); continue }
                switch message {
                case .proposal(let proposal):
                    perform(machines[node].handle(.proposal(proposal, valid: Self.isValid(proposal.header))), at: node)
                case .vote(let vote):
                    perform(machines[node].handle(.vote(vote)), at: node)
                }
            }
        }
        check()
        return outcome
    }

    mutating func check() {
        let digests = Set(outcome.decisions.values.map(\.header.digest))
        if digests.count > 1 { outcome.violations.append("honest validators decided \(digests.count) different checkpoints") }
        let undecided = outcome.honest.filter { outcome.decisions[$0] == nil }
        if !undecided.isEmpty {
            outcome.violations.append("honest validators \(undecided) had not decided by \(options.horizon) ms (stable from \(options.stabilizeAt) ms); behaviours \(behaviours); "
                + undecided.map { "node \($0): \(machines[$0].summary)" }.joined(separator: "; "))
        }
    }
}

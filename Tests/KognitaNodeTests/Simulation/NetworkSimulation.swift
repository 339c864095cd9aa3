import Foundation
import KognitaCore
import KognitaLedger
import KognitaNode
import KognitaSystem
import KognitaTesting

/// A deterministic simulation of a whole Kognita network, in the manner of
/// FoundationDB's simulator and TigerBeetle's VOPR: every node's real
/// ``NodeCore`` (the code the node runs) in one process, devices that pay
/// each other, a simulated clock, simulated disks, and a network that
/// delays, reorders, duplicates, drops and partitions messages, all driven
/// by one seed. Byzantine validators equivocate, withhold their votes until
/// after a handover, and replay old messages; a Byzantine device signs two
/// batches at one seq. The epochs turn over and hand over all along.
///
/// The same seed gives the same run, message for message, in one process
/// (and across processes with `SWIFT_DETERMINISTIC_HASHING=1`), so a
/// failure replays from the seed it prints.
struct NetworkSimulation {
    struct Options {
        var validators = 4
        var byzantine = 1
        var devices = 2
        /// Devices that sign two different batches at each seq, sent to different nodes.
        var equivocatingDevices = 1
        var epochMillis: UInt64 = 600
        /// Before this time links drop and partitions hold; after it every
        /// message between honest nodes arrives within ``maxDelay``.
        var stabilizeAt: UInt64 = 1_000
        var maxDelay: UInt64 = 30
        var dropRate = 0.1
        var duplicateRate = 0.05
        var partitioned = true
        /// Devices start no new batches after this (they resend until final); the network then settles until ``horizon``.
        var devicesStopAt: UInt64 = 4_500
        var horizon: UInt64 = 7_000
        /// Fixed link latency (the figure runs' 20 ms links); random up to ``maxDelay`` when nil.
        var fixedLatency: UInt64? = nil
        /// The most a validator's clock is off (its epochs end that much apart).
        var clockSkew: UInt64 = 40
        /// Nodes outside genesis whose accounts bond and register them part-way
        /// through (they are full nodes until a checkpoint seats them).
        var candidates = 0
        /// After the candidates are seated, a genesis validator unbonds
        /// everything and leaves; otherwise the candidates unbond and leave.
        var validatorLeaves = false
    }

    enum Behaviour: Equatable, CustomStringConvertible {
        case honest
        /// Votes for every batch it hears of, rivals included, in every epoch.
        case equivocate
        /// Keeps its votes back and releases them after the next handover.
        case withhold
        /// Sends old messages of anyone to anyone.
        case replay

        var description: String {
            switch self {
            case .honest: "honest"
            case .equivocate: "equivocate"
            case .withhold: "withhold"
            case .replay: "replay"
            }
        }
    }

    /// What a run found.
    struct Outcome {
        var violations: [String] = []
        var messages = 0
        var finalsReported = 0
        /// Checkpoints adopted by every honest node.
        var checkpoints = 0
        /// For each checkpoint, from the epoch's end (by the latest honest clock) to its adoption by the last honest node (ms).
        var roundMillis: [UInt64] = []
        var behaviours: [Behaviour] = []
        /// How many times the checkpoints changed the committee's members.
        var committeeChanges = 0
    }

    struct SimNode {
        var core: NodeCore
        let key: SigningKey
        let behaviour: Behaviour
        /// This node's clock minus the simulation's.
        let skew: UInt64
        /// Its disk: the final batches by account and seq, and the checkpoints.
        var finals: [AccountID: [UInt64: StoredFinal]] = [:]
        var stored: [LedgerStore.StoredCheckpoint] = []
        var committees: [UInt64: Committee]
        /// When everything persisted so far is durable.
        var durableAt: UInt64 = 0
        var waiters: [NodeCore.WaiterID: Int] = [:]
        var nextWaiter: NodeCore.WaiterID = 0
        /// A withholding node's votes, held until its next adoption.
        var heldVotes: [Vote] = []
    }

    struct StoredFinal {
        let batch: SignedBatch
        let certificate: VerifiedCertificate
        let encoded: [UInt8]
    }

    struct Device {
        let key: SigningKey
        let equivocates: Bool
        /// Whether it pays (a meter); an operator only runs its ``script``.
        var pays = true
        /// Operations to submit, each from a time on and once ``Step/afterSeated`` holds.
        var script: [Step] = []
        var nextSeq: UInt64 = 1
        var prev: BatchID = .zero
        /// The batches of the current seq (two when equivocating) and when they were first sent.
        var current: [SignedBatch] = []
        var sentAt: UInt64 = 0
        var finals = 0
        var finalAfterStable = false
    }

    /// One step of an operator's script.
    struct Step {
        let at: UInt64
        let operations: [KognitaCore.Operation]
        /// Only once the latest honest committee holds all of these nodes.
        var afterSeated: [PublicKey] = []
    }

    /// Indirect: the heap moves its entries around, and a boxed payload moves as one pointer.
    indirect enum Scheduled {
        case deliver(to: Int, from: Int, PeerMessage)
        case core(node: Int, NodeCore.Event)
        case perform(node: Int, [NodeCore.Action])
        case tick(node: Int)
        case device(Int)
        case ack(device: Int, Ack)
        case antiEntropy(node: Int)
        case replay(node: Int)
        case release(node: Int)
    }

    static let network = try! NetworkID("kognita-sim")
    /// `KOGNITA_SIM_TRACE=1` prints every node's log lines with their simulated time (for replaying one seed).
    static let tracing = getenv("KOGNITA_SIM_TRACE") != nil
    static let funding: UInt64 = 1_000_000
    static let bond: UInt64 = 10_000

    let seed: UInt64
    let options: Options
    var random: SplitMix64
    var now: UInt64 = 0
    var queue = SimulatedEvents<Scheduled>()
    var nodes: [SimNode] = []
    var devices: [Device] = []
    var side: [Int] = []
    let genesisCommittee: Committee
    let supply: Int128
    /// Every final any node reported to a device, by account and seq: the batch id.
    var reported: [AccountID: [UInt64: BatchID]] = [:]
    /// Every batch final on an honest node's disk, by account and seq.
    var finalOnHonest: [AccountID: [UInt64: BatchID]] = [:]
    /// Committees by epoch as the honest nodes adopted them.
    var chain: [UInt64: Committee] = [:]
    /// Old messages, for replay.
    var history: [PeerMessage] = []
    /// When each epoch ended by the latest honest clock, and when the last honest node adopted its checkpoint.
    var adoptions: [UInt64: [Int: UInt64]] = [:]
    var outcome = Outcome()
    /// Checks done once for every node: batches by envelope, votes, and
    /// certificates by their bytes. (A vote's or certificate's epoch names
    /// its committee, and the run checks that honest nodes agree on each.)
    var verifiedBatches: [[UInt8]: SignedBatch] = [:]
    var verifiedVotes: [Vote: VerifiedVote] = [:]
    var verifiedCertificates: [[UInt8]: VerifiedCertificate] = [:]

    init(seed: UInt64, options: Options = Options()) {
        self.seed = seed
        self.options = options
        random = SplitMix64(seed: seed)
        func key(_ kind: UInt8, _ index: Int) -> SigningKey {
            var bytes = [UInt8](repeating: 0, count: 32)
            bytes[0] = kind; bytes[1] = UInt8(index)
            return try! SigningKey(seed: bytes)
        }
        let validatorKeys = (0..<options.validators).map { key(1, $0) }
        let candidateKeys = (0..<options.candidates).map { key(3, $0) }
        devices = (0..<(options.devices + options.equivocatingDevices)).map { Device(key: key(2, $0), equivocates: $0 >= options.devices) }
        let weights = Election.cappedWeights(validatorKeys.map { _ in Self.bond })
        genesisCommittee = try! Committee(network: Self.network, epoch: 0,
                                          validators: zip(validatorKeys, weights).map { Validator(id: $0.publicKey, weight: $1) })
        var stakes: [AccountID: Stake] = [:]
        for validator in validatorKeys {
            let registration = Registration(node: validator.publicKey, addresses: ["127.0.0.1:1"],
                                            nodeSignature: try! Signature(bytes: [UInt8](repeating: 0, count: Signature.byteCount)))
            stakes[validator.publicKey] = Stake(bonded: Self.bond, candidate: registration, lastSeated: 0)
        }
        let rules = EpochRules(epochMillis: options.epochMillis, committeeSize: 16, evidenceEpochs: 2, minimumBond: Amount(1), maxClockSkewMillis: 2_000)
        // Operators: each candidate's account bonds and registers it; later
        // the candidates leave, or (once they sit) a genesis validator does.
        let joinAt = 300 + random.next() % 1_500
        for (index, node) in candidateKeys.enumerated() {
            let account = key(4, index)
            let registration = Registration.sign(network: Self.network, account: account.publicKey, addresses: ["10.0.0.\(index + 1):7000"], nodeKey: node)
            var steps = [Step(at: joinAt, operations: [.bond(Amount(Self.bond)), .register(registration)])]
            if !options.validatorLeaves { steps.append(Step(at: joinAt + 2_000 + random.next() % 1_000, operations: [.unbond(Amount(Self.bond))])) }
            devices.append(Device(key: account, equivocates: false, pays: false, script: steps))
        }
        let allocations = devices.map { ($0.key.publicKey, Amount(Self.funding)) }
        if options.validatorLeaves && !candidateKeys.isEmpty {
            // Its account is its node key (as in genesis); it holds only the bond.
            let leaving = validatorKeys[Int(random.next() % UInt64(validatorKeys.count))]
            devices.append(Device(key: leaving, equivocates: false, pays: false,
                                  script: [Step(at: joinAt + 1_000, operations: [.unbond(Amount(Self.bond))], afterSeated: candidateKeys.map(\.publicKey))]))
        }
        let authority = try! Authority.genesis(committee: genesisCommittee, rules: rules, allocations: allocations, stakes: stakes)
        supply = authority.totalMoney
        chain[0] = genesisCommittee
        // Byzantine among the genesis validators, and sometimes one among
        // the candidates instead (so no committee ever holds more than f).
        var roles = Array(repeating: Behaviour.honest, count: options.validators + options.candidates)
        var order = Array(0..<options.validators)
        order.shuffle(using: &random)
        var byzantine = Array(order.prefix(options.byzantine))
        if !byzantine.isEmpty && options.candidates > 0 && random.next() % 2 == 0 {
            byzantine[0] = options.validators + Int(random.next() % UInt64(options.candidates))
        }
        for index in byzantine { roles[index] = [.equivocate, .withhold, .replay].randomElement(using: &random)! }
        outcome.behaviours = roles
        let genesisDigest = BLAKE2b256.hash([UInt8]("kognita-sim genesis".utf8))
        for (index, validator) in (validatorKeys + candidateKeys).enumerated() {
            let core = try! NodeCore(genesisCommittee: genesisCommittee, genesisDigest: genesisDigest, start: 0, checkpoints: [],
                                     carried: [:], touched: [], identity: validator, authority: authority)
            nodes.append(SimNode(core: core, key: validator, behaviour: roles[index], skew: random.next() % (options.clockSkew + 1),
                                 committees: [0: genesisCommittee]))
        }
        side = nodes.indices.map { _ in Int(random.next() % 2) }
    }

    var honest: [Int] { nodes.indices.filter { nodes[$0].behaviour == .honest } }

    // MARK: Scheduling and the network

    mutating func schedule(_ event: Scheduled, after delay: UInt64) { queue.schedule(event, at: now + delay) }

    mutating func roll(_ probability: Double) -> Bool { Double(random.next() % 10_000) / 10_000 < probability }

    mutating func latency() -> UInt64 { options.fixedLatency ?? (1 + random.next() % options.maxDelay) }

    /// Whether a message between two nodes is lost now (partition or drop, before stabilisation).
    mutating func lost(from: Int, to: Int) -> Bool {
        guard now < options.stabilizeAt else { return false }
        if options.partitioned && side[from] != side[to] { return true }
        return roll(options.dropRate)
    }

    mutating func send(_ message: PeerMessage, from: Int, to: Int) {
        guard from != to else { return }
        outcome.messages += 1
        if lost(from: from, to: to) { return }
        let delay = latency()
        schedule(.deliver(to: to, from: from, message), after: delay)
        if roll(options.duplicateRate) { schedule(.deliver(to: to, from: from, message), after: delay + random.next() % options.maxDelay) }
    }

    mutating func broadcast(_ message: PeerMessage, from: Int) {
        if nodes[from].behaviour == .withhold, case .vote(let vote) = message {
            nodes[from].heldVotes.append(vote)
            return
        }
        if history.count < 4_000 { history.append(message) } else { history[Int(random.next() % 4_000)] = message }
        for to in nodes.indices { send(message, from: from, to: to) }
    }

    // MARK: Carrying out a node's actions

    mutating func handle(_ event: NodeCore.Event, at node: Int) {
        let actions = nodes[node].core.handle(event, now: now + nodes[node].skew)
        perform(actions, at: node)
    }

    mutating func perform(_ actions: [NodeCore.Action], at node: Int) {
        for action in actions {
            switch action {
            case .reply(let waiter, let ack):
                guard let device = ack.status == .accepted ? nodes[node].waiters[waiter] : nodes[node].waiters.removeValue(forKey: waiter) else { continue }
                if ack.status == .final { reportedFinal(ack, by: node) }
                schedule(.ack(device: device, ack), after: latency())
            case .forget(let waiters):
                for waiter in waiters { nodes[node].waiters[waiter] = nil }
            case .persist(let changes):
                persist(changes, at: node)
            case .afterDurable(let later):
                schedule(.perform(node: node, later), after: max(nodes[node].durableAt, now) - now)
            case .broadcast(let message):
                broadcast(message, from: node)
            case .send(let message, let peer):
                if let to = nodes.firstIndex(where: { $0.key.publicKey == peer }) { send(message, from: node, to: to) }
            case .deliver(let event):
                handle(event, at: node)
            case .readFinal(let batch, let head, let waiter):
                let final = nodes[node].finals[batch.signer]?[batch.batch.seq].map { (batch: $0.batch, certificate: $0.encoded) }
                schedule(.core(node: node, .finalRead(batch, head: head, final: final, waiter: waiter)), after: 1)
            case .fetch(let account, let from, let upTo, let peer):
                fetch(account, from: from, upTo: upTo, peer: peer, for: node, then: .fetchDone(account))
            case .fetchForCut(let fetches, let cut, let epoch):
                var last: UInt64 = 0
                for fetch in fetches { last = max(last, self.fetch(fetch.account, from: fetch.from, upTo: fetch.upTo, peer: fetch.peer, for: node, then: nil)) }
                schedule(.core(node: node, .cutFetched(cut, epoch: epoch)), after: last + 1)
            case .schedule(let event, let milliseconds):
                schedule(.core(node: node, event), after: milliseconds)
            case .followChain(let peer):
                guard let from = nodes.firstIndex(where: { $0.key.publicKey == peer }), !lost(from: from, to: node) else { continue }
                let epoch = nodes[node].core.committee.epoch
                let delay = 2 * latency()
                for stored in nodes[from].stored where stored.signed.header.epoch >= epoch {
                    schedule(.core(node: node, .checkpoint(stored, from: nil)), after: delay)
                }
            case .adopted(let committee, _):
                adopted(committee, at: node)
            case .log(_, let line):
                if Self.tracing { print("[\(now) ms] node \(node) (\(nodes[node].behaviour)): \(line)") }
            }
        }
    }

    /// A simulated disk: applied at once, durable 0-3 ms later, in order.
    mutating func persist(_ changes: LedgerChanges, at node: Int) {
        nodes[node].durableAt = max(nodes[node].durableAt, now) + random.next() % 4
        for (batch, bytes, _) in changes.finalBatches {
            guard let verified = verifiedCertificate(bytes, committees: nodes[node].committees) else {
                outcome.violations.append("node \(node) stored \(batch.id) with a certificate that does not verify")
                continue
            }
            nodes[node].finals[batch.signer, default: [:]][batch.batch.seq] = StoredFinal(batch: batch, certificate: verified, encoded: bytes)
            guard nodes[node].behaviour == .honest else { continue }
            if let other = finalOnHonest[batch.signer]?[batch.batch.seq], other != batch.id {
                outcome.violations.append("two finals at (\(batch.signer.hex.prefix(8)), \(batch.batch.seq)): \(other) and \(batch.id) (node \(node))")
            }
            finalOnHonest[batch.signer, default: [:]][batch.batch.seq] = batch.id
            if let told = reported[batch.signer]?[batch.batch.seq], told != batch.id {
                outcome.violations.append("a device was told \(told) is final at (\(batch.signer.hex.prefix(8)), \(batch.batch.seq)); node \(node) applied \(batch.id)")
            }
        }
        nodes[node].stored += changes.checkpoints
    }

    /// Serves a fetch from `peer`'s disk (any other node when nil) after a
    /// round trip; returns the delay. A lost request fetches nothing.
    @discardableResult
    mutating func fetch(_ account: AccountID, from: UInt64, upTo: UInt64, peer: PublicKey?, for node: Int, then done: NodeCore.Event?) -> UInt64 {
        let source = peer.flatMap { key in nodes.firstIndex { $0.key.publicKey == key } }
            ?? { let others = nodes.indices.filter { $0 != node }; return others[Int(random.next() % UInt64(others.count))] }()
        let delay = 2 * latency()
        if !lost(from: source, to: node) {
            var seq = from
            while seq < upTo, let final = nodes[source].finals[account]?[seq] {
                // The receiver checks the certificate against the committee of its epoch, as the Synchronizer does.
                guard let verified = verifiedCertificate(final.encoded, committees: nodes[node].committees) else { break }
                schedule(.core(node: node, .caughtUp(final.batch, verified)), after: delay)
                seq += 1
            }
        }
        if let done { schedule(.core(node: node, done), after: delay) }
        return delay
    }

    mutating func adopted(_ committee: Committee, at node: Int) {
        nodes[node].committees[committee.epoch] = committee
        if nodes[node].behaviour == .withhold, !nodes[node].heldVotes.isEmpty {
            schedule(.release(node: node), after: random.next() % 300)
        }
        guard nodes[node].behaviour == .honest else { return }
        if let known = chain[committee.epoch], known.validators.map(\.id) != committee.validators.map(\.id) || known.validators.map(\.weight) != committee.validators.map(\.weight) {
            outcome.violations.append("honest nodes adopted two committees for epoch \(committee.epoch)")
        }
        chain[committee.epoch] = committee
        adoptions[committee.epoch - 1, default: [:]][node] = now
        if nodes[node].core.authority.totalMoney != supply {
            outcome.violations.append("node \(node) holds \(nodes[node].core.authority.totalMoney) after checkpoint \(committee.epoch - 1); the supply is \(supply)")
        }
    }

    mutating func reportedFinal(_ ack: Ack, by node: Int) {
        outcome.finalsReported += 1
        guard let bytes = ack.cert, let id = ack.id, let seq = ack.seq else {
            return outcome.violations.append("node \(node) reported final without a certificate")
        }
        // The device checks the certificate (against the header chain's committee of its epoch).
        guard let certificate = verifiedCertificate(bytes, committees: chain)?.certificate, certificate.batch.id == id else {
            return outcome.violations.append("node \(node) reported \(id) final with a certificate that does not verify")
        }
        let account = certificate.batch.account
        if let other = reported[account]?[seq], other != id {
            outcome.violations.append("devices were told two batches are final at (\(account.hex.prefix(8)), \(seq)): \(other) and \(id)")
        }
        if let applied = finalOnHonest[account]?[seq], applied != id {
            outcome.violations.append("node \(node) reported \(id) final at (\(account.hex.prefix(8)), \(seq)); honest nodes applied \(applied)")
        }
        reported[account, default: [:]][seq] = id
    }

    // MARK: Messages in, as a node's peer handler passes them

    mutating func deliver(_ message: PeerMessage, to node: Int, from: Int) {
        let sender = nodes[from].key.publicKey
        switch message {
        case .forward(let envelope):
            guard let batch = checked(envelope) else { return }
            if nodes[node].behaviour == .equivocate { equivocate(on: batch, at: node) }
            handle(.forwarded(batch, from: sender), at: node)
        case .vote(let vote):
            // A vote comes from its own validator (the handler closes a link that relays another's).
            guard vote.validator == sender else { return }
            guard let committee = nodes[node].committees[vote.epoch] else { return handle(.futureVote(vote), at: node) }
            guard let verified = verifiedVotes[vote] ?? (try? vote.verify(for: committee)) else { return }
            if verifiedVotes.count > 20_000 { verifiedVotes = [:] }
            verifiedVotes[vote] = verified
            handle(.vote(verified), at: node)
        case .refusal(let batch, let reason, let detail, let head):
            handle(.refused(batch, Rejection(reason, detail, head: head), by: sender), at: node)
        case .sealReport(let report):
            handle(.sealReport(report), at: node)
        case .checkpointProposal(let proposal, let reports):
            handle(.proposal(proposal, reports: reports), at: node)
        case .checkpointVote(let vote):
            handle(.checkpointVote(vote), at: node)
        case .checkpoint(let checkpoint):
            handle(.checkpoint(checkpoint, from: sender), at: node)
        case .progress(let epoch):
            handle(.progress(sender, epoch: epoch), at: node)
        default:
            break
        }
    }

    mutating func verifiedCertificate(_ bytes: [UInt8], committees: [UInt64: Committee]) -> VerifiedCertificate? {
        if let known = verifiedCertificates[bytes] { return known }
        guard let certificate = try? Certificate(decoding: bytes), let committee = committees[certificate.epoch],
              let verified = try? certificate.verify(for: committee) else { return nil }
        verifiedCertificates[bytes] = verified
        return verified
    }

    mutating func checked(_ envelope: [UInt8]) -> SignedBatch? {
        if let known = verifiedBatches[envelope] { return known }
        guard let batch = try? SignedBatch.verify(envelope, expectedNetwork: Self.network) else { return nil }
        verifiedBatches[envelope] = batch
        return batch
    }

    /// An equivocating validator votes for whatever it hears of, whatever it voted before, in its current epoch.
    mutating func equivocate(on batch: SignedBatch, at node: Int) {
        let epoch = nodes[node].core.committee.epoch
        let vote = Vote.sign(keys: [BatchKey(batch)], network: Self.network, epoch: epoch, with: nodes[node].key)
        broadcast(.vote(vote), from: node)
    }

    // MARK: Devices

    mutating func deviceStep(_ index: Int) {
        var device = devices[index]
        if device.current.isEmpty && !device.pays {
            // An operator: its next step, when its time and condition have come.
            guard let step = device.script.first else { return }
            let latest = chain.max { $0.key < $1.key }?.value
            guard now >= step.at, step.afterSeated.allSatisfy({ latest?.contains($0) ?? false }) else {
                return schedule(.device(index), after: max(step.at, now + 100) - now)
            }
            device.script.removeFirst()
            let batch = Batch(network: Self.network, seq: device.nextSeq, prev: device.prev, created: now, transfers: [], operations: step.operations)
            device.current = [try! SignedBatch.sign(batch, with: device.key)]
            device.sentAt = now
        }
        if device.current.isEmpty {
            guard now < options.devicesStopAt else { return }
            // The next batch (two rival ones for an equivocating device); until it is final, the same one is resent.
            let payee = devices[(index + 1 + Int(random.next() % UInt64(devices.count - 1))) % devices.count].key.publicKey
            func make(_ amount: UInt64) -> SignedBatch {
                let batch = Batch(network: Self.network, seq: device.nextSeq, prev: device.prev, created: now,
                                  transfers: [Transfer(to: payee, amount: Amount(amount))])
                return try! SignedBatch.sign(batch, with: device.key)
            }
            device.current = device.equivocates ? [make(1 + random.next() % 50), make(51 + random.next() % 50)] : [make(1 + random.next() % 100)]
            device.sentAt = now
        }
        // Send (or resend) each batch to a node of its own.
        for (offset, batch) in device.current.enumerated() {
            let node = Int((random.next() + UInt64(offset)) % UInt64(nodes.count))
            nodes[node].nextWaiter += 1
            let waiter = nodes[node].nextWaiter
            nodes[node].waiters[waiter] = index
            schedule(.core(node: node, .submit(batch, waiter: waiter)), after: latency())
        }
        devices[index] = device
        schedule(.device(index), after: 300 + random.next() % 200)
    }

    mutating func deviceAck(_ index: Int, _ ack: Ack) {
        guard ack.status == .final, let id = ack.id, let seq = ack.seq, seq == devices[index].nextSeq,
              devices[index].current.contains(where: { $0.id == id }) else { return }
        devices[index].nextSeq += 1
        devices[index].prev = id
        devices[index].current = []
        devices[index].finals += 1
        if devices[index].sentAt >= options.stabilizeAt { devices[index].finalAfterStable = true }
        schedule(.device(index), after: 50 + random.next() % 150)
    }

    // MARK: Anti-entropy (the node's CatchUpService)

    mutating func antiEntropy(_ node: Int) {
        let others = nodes.indices.filter { $0 != node }
        let peer = others[Int(random.next() % UInt64(others.count))]
        if !lost(from: peer, to: node) {
            if nodes[peer].core.committee.epoch > nodes[node].core.committee.epoch {
                perform([.followChain(from: nodes[peer].key.publicKey)], at: node)
            }
            for (account, finals) in nodes[peer].finals.sorted(by: { $0.key < $1.key }) {
                let have = nodes[node].core.head(of: account).nextSeq
                if let top = finals.keys.max(), top >= have {
                    fetch(account, from: have, upTo: top + 1, peer: nodes[peer].key.publicKey, for: node, then: nil)
                }
            }
        }
        schedule(.antiEntropy(node: node), after: 1_000)
    }

    // MARK: Running

    mutating func run() -> Outcome {
        let everyone = Set(nodes.map(\.key.publicKey))
        for node in nodes.indices {
            handle(.peers(everyone.subtracting([nodes[node].key.publicKey])), at: node)
            handle(.ready, at: node)
            schedule(.tick(node: node), after: random.next() % 25)
            schedule(.antiEntropy(node: node), after: 500 + random.next() % 500)
            if nodes[node].behaviour == .replay { schedule(.replay(node: node), after: 100) }
        }
        for index in devices.indices { schedule(.device(index), after: random.next() % 200) }
        while let (at, event) = queue.popEarliest(), at <= options.horizon {
            now = at
            switch event {
            case .deliver(let node, let from, let message):
                deliver(message, to: node, from: from)
            case .core(let node, let event):
                handle(event, at: node)
            case .perform(let node, let actions):
                perform(actions, at: node)
            case .tick(let node):
                handle(.tick, at: node)
                schedule(.tick(node: node), after: 25)
            case .device(let index):
                deviceStep(index)
            case .ack(let index, let ack):
                deviceAck(index, ack)
            case .antiEntropy(let node):
                antiEntropy(node)
            case .replay(let node):
                if let old = history.randomElement(using: &random) {
                    let to = Int(random.next() % UInt64(nodes.count))
                    if to != node { send(old, from: node, to: to) }
                }
                schedule(.replay(node: node), after: 20 + random.next() % 80)
            case .release(let node):
                let held = nodes[node].heldVotes
                nodes[node].heldVotes = []
                for vote in held { for to in nodes.indices { send(.vote(vote), from: node, to: to) } }
            }
        }
        check()
        return outcome
    }

    mutating func check() {
        let honest = self.honest
        // One chain: every honest node's checkpoints are a prefix of the longest.
        let chains = honest.map { nodes[$0].core.checkpoints.map(\.header.digest) }
        let longest = chains.max { $0.count < $1.count } ?? []
        for (node, chain) in zip(honest, chains) where Array(longest.prefix(chain.count)) != chain {
            outcome.violations.append("node \(node)'s checkpoint chain is not a prefix of the longest")
        }
        outcome.checkpoints = chains.map(\.count).min() ?? 0
        let members = chain.sorted { $0.key < $1.key }.map { Set($0.value.validators.map(\.id)) }
        outcome.committeeChanges = zip(members, members.dropFirst()).filter { $0 != $1 }.count
        // Checkpoints keep coming once the network is stable: every honest
        // node adopts at least two after stabilisation, and one in the run's
        // last two epochs and a half (the first after a partition may wait
        // out the agreement's grown round timeouts).
        for node in honest {
            let after = adoptions.values.compactMap { $0[node] }.filter { $0 >= options.stabilizeAt }
            if after.count < 2 || (after.max() ?? 0) + 2 * options.epochMillis + options.epochMillis / 2 < options.horizon {
                outcome.violations.append("node \(node) adopted \(after.count) checkpoints after the network stabilised at \(options.stabilizeAt) ms, the last at \(after.max() ?? 0) ms of \(options.horizon) (epochs of \(options.epochMillis) ms)")
            }
        }
        for node in honest where nodes[node].core.authority.totalMoney != supply {
            outcome.violations.append("node \(node) ends with \(nodes[node].core.authority.totalMoney) in total; the supply is \(supply)")
        }
        // Every final reported survives: each honest node holds it, and nothing else at its seq.
        for (account, seqs) in reported.sorted(by: { $0.key < $1.key }) {
            for (seq, id) in seqs.sorted(by: { $0.key < $1.key }) {
                for node in honest {
                    guard let held = nodes[node].finals[account]?[seq] else {
                        outcome.violations.append("node \(node) lacks \(id) at (\(account.hex.prefix(8)), \(seq)), which a device was told is final")
                        continue
                    }
                    if held.batch.id != id { outcome.violations.append("node \(node) holds \(held.batch.id) where \(id) was reported final") }
                }
            }
        }
        // Honest devices keep being paid once the network is stable.
        for (index, device) in devices.enumerated() where device.pays && !device.equivocates && !device.finalAfterStable {
            outcome.violations.append("device \(index) had no batch final after the network stabilised (next seq \(device.nextSeq))")
        }
        // The round: from the epoch's end (the previous header's time plus
        // an epoch, on the clock of the node furthest ahead) to the last honest adoption.
        let headers = honest.map { nodes[$0].core.checkpoints }.max { $0.count < $1.count } ?? []
        let ahead = nodes.map(\.skew).max() ?? 0
        for (epoch, adopted) in adoptions.sorted(by: { $0.key < $1.key }) where adopted.count == honest.count {
            let previous = epoch == 0 ? 0 : (Int(epoch) - 1 < headers.count ? headers[Int(epoch) - 1].header.timestamp : 0)
            let end = previous + options.epochMillis
            if let last = adopted.values.max(), last + ahead > end { outcome.roundMillis.append(last + ahead - end) }
        }
    }
}

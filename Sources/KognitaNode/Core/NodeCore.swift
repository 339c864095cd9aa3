import KognitaCore
import KognitaLedger

/// Everything a node decides, as a pure state machine: events in, actions
/// out, the way ``Authority`` decides one batch and the agent's `Uplink`
/// decides one device's traffic. It holds the ledger (an ``Authority``),
/// the certificate assemblers, the batches still pending, who waits for
/// which batch, the votes queued, and the end of the epoch (an
/// ``EpochSession`` and the cut it approaches, NodeCore+Epochs.swift).
///
/// It does no I/O, reads no clock and starts no task: time comes in with
/// each event, and everything it wants done comes out as an ``Action``.
/// ``NodeEngine`` carries the actions out on the real network and disk;
/// the whole-system simulation carries them out on a simulated one.
///
/// Durability is an ordering rule here, not a call: ``Action/persist(_:)``
/// hands changes to the store in order, and ``Action/afterDurable(_:)``
/// holds its actions until everything persisted before it is on disk. So a
/// vote never leaves before its lock is durable, and no client hears
/// `final` before the batch is durable on this node.
public struct NodeCore: Sendable {
    /// A client waiting for a batch's outcome (the shell keeps its reply).
    public typealias WaiterID = UInt64

    /// The committee of the epoch this node is in (it changes at each checkpoint).
    public internal(set) var committee: Committee
    public let identity: SigningKey
    /// Whether this node sits on the current committee.
    public internal(set) var isValidator: Bool
    public internal(set) var authority: Authority
    /// Whether the startup catch-up is done: until then the node neither votes nor takes submissions.
    public internal(set) var ready = false
    /// Node peers connected now (validators and full nodes).
    public internal(set) var peers: Set<PublicKey> = []
    /// The epoch each connected peer last said it is caught up to (``PeerMessage/progress(epoch:)``).
    var peerEpochs: [PublicKey: UInt64] = [:]
    public internal(set) var counters = Counters()

    /// One per epoch whose votes may still arrive: the current and the previous.
    var assemblers: [UInt64: CertificateAssembler] = [:]
    /// Batches known here and not final yet, with when they were last forwarded (ms).
    var pending = BoundedMap<BatchKey, PendingBatch>(capacity: 50_000)
    /// Certificates formed before their batch arrived here.
    var certifiedEarly = BoundedMap<BatchKey, VerifiedCertificate>(capacity: 50_000)
    /// Recently applied batches' certificates, to answer resends without a read.
    var recentFinal = BoundedMap<BatchKey, [UInt8]>(capacity: 20_000)
    /// Who waits for each batch to become final.
    var waiters: [BatchKey: [Waiter]] = [:]
    /// Refusals of forwarded batches by weight, to answer once no quorum can form.
    var refusals: [BatchKey: Refusals] = [:]
    /// Batches to vote for in the next vote, and the new locks that must be durable first.
    var voteQueue: [BatchKey] = []
    var voteQueued: Set<BatchKey> = []
    var lockChanges = LedgerChanges()
    var voteFlushScheduled = false
    /// Accounts with a catch-up fetch in flight (certificates arrived ahead of their predecessor).
    var fetching: Set<AccountID> = []
    /// Each account's next seq at the last adopted checkpoint's cut: batches
    /// below it are part of a decided checkpoint, so they apply at once
    /// (even while sealed) and do not count as applied in this epoch.
    var checkpointedHeads: [AccountID: UInt64] = [:]

    // Epochs (NodeCore+Epochs.swift).
    /// The end of the current epoch: seal, agreement, checkpoint.
    public internal(set) var session: EpochSession
    /// The checkpoints adopted, in order.
    public internal(set) var checkpoints: [SignedCheckpoint]
    let genesisDigest: Bytes32
    /// Accounts applied since the last checkpoint (their heads go in the seal report).
    var touched: Set<AccountID>
    /// Certificates held back since this validator sealed (they apply after the checkpoint).
    var withheld: [BatchKey: (SignedBatch, VerifiedCertificate)] = [:]
    /// While bringing the ledger to a cut: certificates below its heads apply.
    var cutTarget: EpochCut?
    /// The cut being approached, what waits on it, and the accounts still short of it (by the next seq needed).
    var approach: CutApproach?
    /// Bodies of the headers this node built, by digest, for adopting the decided one.
    var builtBodies: [Bytes32: CheckpointBodies] = [:]
    /// Batches decided while sealed: locked, voted on in the next epoch.
    var deferredVotes: [BatchKey] = []
    /// Votes of an epoch whose committee is not known yet (its checkpoint is being decided).
    var futureVotes: [Vote] = []
    static let maxFutureVotes = 4_096
    /// Own agreement messages already in the write-ahead log (resends are not logged again).
    var loggedAgreement: Set<CheckpointAgreement.Message> = []
    /// The votes this validator keeps, for batches it sampled in secret, to
    /// report at the seal: the evidence its peers are rated by.
    var sampler: InclusionSampler
    /// A test fault (devnet `--faulty NODE:drop-votes=F`): the share of its
    /// votes, in permille, that this validator never casts. Zero in production.
    public var dropVotesPermille: UInt64 = 0
    /// Proofs of equivocation not yet acted on, by offender: each seal report carries them.
    var pendingEvidence: [PublicKey: EquivocationProof] = [:]
    let genesisCommittee: Committee

    /// What a node counts (``NodeEngine`` mirrors them into its Prometheus metrics).
    public struct Counters: Sendable, Hashable {
        public var batchesReceived = 0
        public var batchesFinal = 0
        public var transfersFinal = 0
        public var votesSent = 0
        public var certificatesFormed = 0
        public var rejected = 0
        public var catchUpBatches = 0
        public var batchesForwarded = 0
        public var votesReceived = 0
        public var badVotes = 0
        public var epochMessagesRefused = 0
        public var checkpointsAdopted = 0
        /// Refusals by the contract's reason.
        public var rejections: [RejectReason: Int] = [:]
    }

    struct PendingBatch {
        let batch: SignedBatch
        var forwardedAt: UInt64?
    }

    struct Waiter {
        let id: WaiterID
        let since: UInt64
    }

    struct Refusals {
        var weight: UInt64 = 0
        var validators: Set<PublicKey> = []
        var first: Rejection
    }

    struct CutApproach {
        let cut: EpochCut
        var purposes: [CutPurpose]
        var missing: [AccountID: UInt64]
    }

    enum CutPurpose {
        case build(timestamp: UInt64, round: UInt32)
        case check(CheckpointHeader)
    }

    /// Votes are signed when this many batches are queued, or after ``voteDelayMillis``.
    static let voteBatchSize = 512
    public static let voteDelayMillis: UInt64 = 2
    /// A pending batch a client resends is forwarded again after this long.
    static let reforwardAfterMillis: UInt64 = 2_000
    /// The most clients waiting on one batch (a device that resends keeps
    /// only its latest few waits; the oldest are dropped unanswered).
    static let maxWaitersPerBatch = 8
    /// How long a client's wait for a final answer is kept.
    static let waiterLifetimeMillis: UInt64 = 120_000
    /// How long a validator waits for certificates in flight before it fetches what its cut still misses.
    public static let cutGraceMillis: UInt64 = 100

    // MARK: Events and actions

    public enum Event: Sendable {
        /// A batch from a client (its signature checked); `waiter` gets the answers.
        case submit(SignedBatch, waiter: WaiterID)
        /// A batch a peer forwarded (its signature checked).
        case forwarded(SignedBatch, from: PublicKey)
        /// A validator refused a batch this node forwarded.
        case refused(BatchKey, Rejection, by: PublicKey)
        /// A verified vote of the current or previous epoch (a peer's or this validator's own).
        case vote(VerifiedVote)
        /// A vote of a later epoch than this node's, not verifiable yet.
        case futureVote(Vote)
        /// The vote delay is over: sign what is queued.
        case flushVotes
        /// A certified batch fetched from a peer (certificate verified).
        case caughtUp(SignedBatch, VerifiedCertificate)
        /// A ``Action/fetch(account:from:upTo:peer:)`` finished.
        case fetchDone(AccountID)
        /// What the store holds at the seq of a batch asked about (``Action/readFinal(_:head:waiter:)``).
        case finalRead(SignedBatch, head: AccountHead, final: (batch: SignedBatch, certificate: [UInt8])?, waiter: WaiterID)
        /// Node peers connected now.
        case peers(Set<PublicKey>)
        /// A peer said it is caught up to `epoch`.
        case progress(PublicKey, epoch: UInt64)
        /// The startup catch-up is done.
        case ready
        /// Drops client waits that are too old.
        case expireWaiters
        /// The epoch clock.
        case tick
        case sealReport(SealReport)
        case proposal(CheckpointProposal, reports: [SealReport])
        case checkpointVote(CheckpointVote)
        case epochTimeout(CheckpointAgreement.Timeout, epoch: UInt64)
        /// ``cutGraceMillis`` after starting towards a cut.
        case cutGraceOver(EpochCut, epoch: UInt64)
        /// The fetches of ``Action/fetchForCut(_:cut:epoch:)`` finished.
        case cutFetched(EpochCut, epoch: UInt64)
        /// A decided checkpoint with its bodies (decoded and matched), from a peer or a chain fetch.
        case checkpoint(LedgerStore.StoredCheckpoint, from: PublicKey?)
        /// A proof of equivocation (``check(_:)`` passed).
        case evidence(EquivocationProof)
    }

    public enum Action: Sendable {
        /// Answer a waiting client.
        case reply(WaiterID, Ack)
        /// These clients' waits ended without an answer (dropped).
        case forget([WaiterID])
        /// Hand changes to the store, in order.
        case persist(LedgerChanges)
        /// Carry these out once everything persisted so far is durable.
        case afterDurable([Action])
        case broadcast(PeerMessage)
        /// Send to one peer (dropped when it is not connected).
        case send(PeerMessage, to: PublicKey)
        /// Handle this event next (this node's own vote, once its lock is durable).
        case deliver(Event)
        /// Read the final batch at the batch's (account, seq) and answer with ``Event/finalRead``.
        case readFinal(SignedBatch, head: AccountHead, waiter: WaiterID)
        /// Fetch `account`'s final batches from `from` (below `upTo`) from `peer` (any connected when nil),
        /// feed them back as ``Event/caughtUp``, then ``Event/fetchDone``.
        case fetch(account: AccountID, from: UInt64, upTo: UInt64, peer: PublicKey?)
        /// Fetch each account's final batches up to the cut, then ``Event/cutFetched``.
        case fetchForCut([CutFetch], cut: EpochCut, epoch: UInt64)
        /// Deliver `event` back after `milliseconds`.
        case schedule(Event, milliseconds: UInt64)
        /// Fetch the checkpoints from this node's epoch on from `peer`, as ``Event/checkpoint`` events.
        case followChain(from: PublicKey)
        /// A checkpoint was adopted: the new committee, and where its members said they are reached.
        case adopted(Committee, addresses: [PublicKey: String])
        case log(LogLevel, String)
    }

    public enum LogLevel: Sendable { case info, warning, error, critical }

    /// One account to fetch towards a cut, from the validator that reported its head (any peer when nil).
    public struct CutFetch: Sendable {
        public let account: AccountID
        public let from: UInt64
        public let upTo: UInt64
        public let peer: PublicKey?
    }

    /// The actions of the event being handled.
    var out: [Action] = []
    /// The time of the event being handled (ms since 1970).
    var now: UInt64 = 0

    /// A node over `authority`, in the epoch after the last of `checkpoints`
    /// (epoch 0 with none). `start` is genesis's `start_ms`, `carried` the
    /// last checkpoint's carried locks, `lastCut` its cut body, `touched` the
    /// accounts applied since it, `ownAgreementMessages` this validator's
    /// write-ahead log (all as the store kept them).
    public init(genesisCommittee: Committee, genesisDigest: Bytes32, start: UInt64, checkpoints: [SignedCheckpoint],
                carried: [AccountID: CarriedLock], lastCut: [UInt8]? = nil, touched: Set<AccountID>,
                ownAgreementMessages: [(epoch: UInt64, message: CheckpointAgreement.Message)] = [],
                identity: SigningKey, authority: Authority) throws {
        var current = genesisCommittee
        for checkpoint in checkpoints { current = try checkpoint.header.committee() }
        committee = current
        self.genesisCommittee = genesisCommittee
        self.identity = identity
        isValidator = current.contains(identity.publicKey)
        var authority = authority
        if authority.committee.epoch != current.epoch { authority.switchCommittee(current) }
        self.authority = authority
        assemblers[current.epoch] = CertificateAssembler(committee: current)
        self.checkpoints = checkpoints
        self.genesisDigest = genesisDigest
        self.touched = touched
        session = EpochSession(committee: current, rules: authority.rules, previous: checkpoints.last?.header.digest ?? genesisDigest,
                               previousTimestamp: checkpoints.last?.header.timestamp ?? start, previouslyCarried: carried, key: identity)
        sampler = InclusionSampler(network: current.network, epoch: current.epoch, key: identity)
        // What this validator signed in this epoch before it stopped: it repeats it, never contradicts it.
        // Batches below the last cut apply at once after a restart too.
        if let lastCut { checkpointedHeads = try CheckpointBodies.cutHeads(decoding: lastCut) }
        let own = ownAgreementMessages.filter { $0.epoch == current.epoch }.map(\.message)
        session.restore(own)
        loggedAgreement = Set(own)
    }

    /// Handles one event at `now` (ms since 1970); returns what to do, in order.
    public mutating func handle(_ event: Event, now: UInt64) -> [Action] {
        self.now = now
        switch event {
        case .submit(let batch, let waiter): submit(batch, waiter: waiter)
        case .forwarded(let batch, let peer): forwarded(batch, from: peer)
        case .refused(let key, let rejection, let validator): refused(key, rejection, by: validator)
        case .vote(let vote): received(vote)
        case .futureVote(let vote): receivedFuture(vote)
        case .flushVotes: flushVotes()
        case .caughtUp(let batch, let certificate):
            counters.catchUpBatches += 1
            applyCertified(batch, certificate)
        case .fetchDone(let account): fetching.remove(account)
        case .finalRead(let batch, let head, let final, let waiter): answerFromStore(batch, head: head, final: final, waiter: waiter)
        case .peers(let connected): connectedChanged(connected)
        case .progress(let peer, let epoch): if peers.contains(peer) { peerEpochs[peer] = epoch }
        case .ready: becomeReady()
        case .expireWaiters: expireWaiters()
        case .tick: if ready { perform(session.handle(.tick(nowMillis: now))) }
        case .sealReport(let report): if isValidator { perform(session.handle(.report(report))) }
        case .proposal(let proposal, let reports):
            if isValidator, proposal.header.epoch == committee.epoch { perform(session.handle(.proposal(proposal, reports: reports, nowMillis: now))) }
        case .checkpointVote(let vote): if isValidator { perform(session.handle(.vote(vote))) }
        case .epochTimeout(let timeout, let epoch): if epoch == committee.epoch { perform(session.handle(.timeout(timeout))) }
        case .cutGraceOver(let cut, let epoch): cutGraceOver(cut, epoch: epoch)
        case .cutFetched(let cut, let epoch):
            if let still = approach, still.cut == cut, epoch == committee.epoch { completeApproach() }
        case .checkpoint(let checkpoint, let peer): received(checkpoint: checkpoint, from: peer)
        case .evidence(let proof): received(evidence: proof)
        }
        defer { out = [] }
        return out
    }

    // MARK: Queries

    /// The account's head as this node knows it (final state, in memory).
    public func head(of account: AccountID) -> AccountHead { authority.state(of: account).head }

    /// Batches known here and not final yet.
    public var pendingCount: Int { pending.count }

    /// The first registered address of each committee member.
    public func committeeAddresses() -> [PublicKey: String] {
        var result: [PublicKey: String] = [:]
        for validator in committee.validators {
            for account in authority.candidateAccounts[validator.id] ?? [] {
                if let address = authority.stakes[account]?.candidate?.addresses.first { result[validator.id] = address }
            }
        }
        return result
    }

    /// New peers hear how far this node is; gone ones are forgotten.
    mutating func connectedChanged(_ connected: Set<PublicKey>) {
        if ready { for peer in connected.subtracting(peers).sorted() { out.append(.send(.progress(epoch: committee.epoch), to: peer)) } }
        for peer in peers.subtracting(connected) { peerEpochs[peer] = nil }
        peers = connected
    }

    mutating func becomeReady() {
        guard !ready else { return }
        ready = true
        out.append(.broadcast(.progress(epoch: committee.epoch)))
        out.append(.log(.info, "caught up with peers; \(isValidator ? "voting" : "following") from now on (\(authority.accounts.count) accounts, digest \(authority.stateDigest.hex.prefix(16)))"))
    }

    // MARK: Submissions

    /// A batch from a client: `accepted`, then `final` or `rejected` (or one of those straight away).
    mutating func submit(_ batch: SignedBatch, waiter: WaiterID) {
        counters.batchesReceived += 1
        let key = BatchKey(batch), seq = batch.batch.seq
        let state = authority.state(of: batch.signer)
        guard ready else {
            return reject(batch, Rejection(.overloaded, "the node is catching up with its peers; resend shortly", head: state.head), waiter)
        }
        guard batch.batch.network == committee.network else {
            return reject(batch, Rejection(.wrongNetwork, "the batch is for network \(batch.batch.network); this is \(committee.network)", head: state.head), waiter)
        }
        if seq < state.nextSeq { return answerFinalOrStale(batch, head: state.head, waiter) }
        if isValidator && session.sealed {
            // Sealed: no new votes in this epoch; decided after the checkpoint.
            guard seq - state.nextSeq <= Authority.lookahead else {
                return reject(batch, Rejection(.gap, "seq \(seq) is beyond the account's next seq \(state.nextSeq) by more than \(Authority.lookahead)", head: state.head), waiter)
            }
        } else if isValidator {
            switch authority.handle(batch) {
            case .vote(_, let lockIsNew):
                enqueueVote(key, newLock: lockIsNew ? authority.locks[batch.signer] : nil)
            case .waiting:
                break
            case .belowNext(let head):
                return answerFinalOrStale(batch, head: head, waiter)
            case .rejected(let rejection):
                return reject(batch, rejection, waiter)
            }
        } else if seq - state.nextSeq > Authority.lookahead {
            return reject(batch, Rejection(.gap, "seq \(seq) is beyond the account's next seq \(state.nextSeq) by more than \(Authority.lookahead)", head: state.head), waiter)
        }
        addWaiter(key, Waiter(id: waiter, since: now))
        out.append(.reply(waiter, Ack(id: batch.id, seq: seq, status: .accepted)))
        remember(batch, forward: true)
    }

    private mutating func addWaiter(_ key: BatchKey, _ waiter: Waiter) {
        var list = waiters[key] ?? []
        if list.count >= Self.maxWaitersPerBatch {
            let dropped = list.prefix(list.count - Self.maxWaitersPerBatch + 1)
            out.append(.forget(dropped.map(\.id)))
            list.removeFirst(dropped.count)
        }
        list.append(waiter)
        waiters[key] = list
    }

    /// Drops waits older than ``waiterLifetimeMillis`` (batches that never
    /// became final: a frozen account, a lost predecessor), so they cannot pile up.
    mutating func expireWaiters() {
        let cutoff = now > Self.waiterLifetimeMillis ? now - Self.waiterLifetimeMillis : 0
        var dropped: [WaiterID] = []
        for (key, list) in waiters {
            let kept = list.filter { $0.since > cutoff }
            guard kept.count != list.count else { continue }
            dropped += list.filter { $0.since <= cutoff }.map(\.id)
            if kept.isEmpty {
                waiters[key] = nil
                refusals[key] = nil
            } else {
                waiters[key] = kept
            }
        }
        if !dropped.isEmpty { out.append(.forget(dropped)) }
    }

    mutating func reject(_ batch: SignedBatch, _ rejection: Rejection, _ waiter: WaiterID) {
        counters.rejected += 1
        counters.rejections[rejection.reason, default: 0] += 1
        out.append(.reply(waiter, Self.rejectedAck(batch, rejection)))
    }

    static func rejectedAck(_ batch: SignedBatch, _ rejection: Rejection) -> Ack {
        Ack(id: batch.id, seq: batch.batch.seq, status: .rejected, reason: rejection.reason,
            detail: String(rejection.detail.prefix(200)), head: rejection.head)
    }

    /// The batch's seq is final here: `final` again when it is this batch, `stale` otherwise.
    private mutating func answerFinalOrStale(_ batch: SignedBatch, head: AccountHead, _ waiter: WaiterID) {
        if let certificate = recentFinal[BatchKey(batch)] {
            // Applied recently: answered once durable (the store's order makes
            // waiting for everything persisted so far enough).
            let ack = Ack(id: batch.id, seq: batch.batch.seq, status: .final, cert: certificate)
            out.append(.afterDurable([.reply(waiter, ack)]))
            return
        }
        // An older batch: its certificate is on disk.
        out.append(.readFinal(batch, head: head, waiter: waiter))
    }

    private mutating func answerFromStore(_ batch: SignedBatch, head: AccountHead, final: (batch: SignedBatch, certificate: [UInt8])?, waiter: WaiterID) {
        if let final {
            if final.batch.id == batch.id {
                return out.append(.reply(waiter, Ack(id: batch.id, seq: batch.batch.seq, status: .final, cert: final.certificate)))
            }
            return reject(batch, Rejection(.stale, "batch \(final.batch.id) is final at seq \(batch.batch.seq)", head: head), waiter)
        }
        reject(batch, Rejection(.stale, "seq \(batch.batch.seq) is already final (the account's next seq is \(head.nextSeq))", head: head), waiter)
    }

    /// Keeps a batch until it is final, forwards it to the peers (again, when
    /// a resend finds it pending for a while), and applies it at once when its
    /// certificate came first.
    private mutating func remember(_ batch: SignedBatch, forward: Bool) {
        let key = BatchKey(batch)
        var entry = pending[key] ?? PendingBatch(batch: batch, forwardedAt: nil)
        if forward, entry.forwardedAt.map({ now > $0 + Self.reforwardAfterMillis }) ?? true {
            entry.forwardedAt = now
            out.append(.broadcast(.forward(envelope: batch.envelope)))
            counters.batchesForwarded += 1
        }
        pending[key] = entry
        if let certificate = certifiedEarly.removeValue(forKey: key) { applyCertified(batch, certificate) }
    }

    // MARK: From peers

    mutating func forwarded(_ batch: SignedBatch, from peer: PublicKey) {
        counters.batchesReceived += 1
        let key = BatchKey(batch)
        if authority.state(of: batch.signer).nextSeq > batch.batch.seq { return }
        if isValidator && ready && !session.sealed {
            switch authority.handle(batch) {
            case .vote(_, let lockIsNew):
                enqueueVote(key, newLock: lockIsNew ? authority.locks[batch.signer] : nil)
            case .waiting, .belowNext:
                break
            case .rejected(let rejection):
                counters.rejections[rejection.reason, default: 0] += 1
                out.append(.send(.refusal(batch: key, reason: rejection.reason, detail: rejection.detail, head: rejection.head), to: peer))
            }
        }
        remember(batch, forward: false)
    }

    mutating func refused(_ key: BatchKey, _ rejection: Rejection, by validator: PublicKey) {
        guard let weight = committee.weight(of: validator), waiters[key] != nil else { return }
        var tally = refusals[key] ?? Refusals(first: rejection)
        guard tally.validators.insert(validator).inserted else { return }
        tally.weight += weight
        refusals[key] = tally
        // Once the refusals weigh more than the rest could make up, no quorum can form.
        if tally.weight > committee.totalWeight - committee.quorumWeight, let batch = pending[key]?.batch {
            refusals[key] = nil
            for waiter in waiters.removeValue(forKey: key) ?? [] { reject(batch, tally.first, waiter.id) }
        }
    }

    // MARK: Votes

    mutating func enqueueVote(_ key: BatchKey, newLock: Lock?) {
        if let newLock { lockChanges.newLocks[key.account] = newLock }
        if session.sealed {
            // Locked now (durable with the next vote), voted on in the next epoch.
            deferredVotes.append(key)
            return
        }
        if voteQueued.insert(key).inserted { voteQueue.append(key) }
        if voteQueue.count >= Self.voteBatchSize {
            flushVotes()
        } else if !voteFlushScheduled {
            voteFlushScheduled = true
            out.append(.schedule(.flushVotes, milliseconds: Self.voteDelayMillis))
        }
    }

    /// Signs one vote for the queued batches, sent to every peer (and
    /// counted here) once their locks are on disk.
    mutating func flushVotes() {
        voteFlushScheduled = false
        while !voteQueue.isEmpty {
            let keys = Array(voteQueue.prefix(Vote.maxBatches))
            voteQueue.removeFirst(keys.count)
            for key in keys { voteQueued.remove(key) }
            out.append(.persist(lockChanges))
            lockChanges = LedgerChanges()
            let cast = dropVotesPermille == 0 ? keys : keys.filter { !dropsVote(for: $0) }
            guard !cast.isEmpty, committee.contains(identity.publicKey),
                  let vote = Vote.signVerified(keys: cast, committee: committee, with: identity) else { continue }
            counters.votesSent += 1
            // A validator never lets a vote out before its lock is durable.
            out.append(.afterDurable([.broadcast(.vote(vote.vote)), .deliver(.vote(vote))]))
        }
    }

    /// Whether the drop-votes test fault skips the vote for `key`: a fixed
    /// pseudo-random share of batches, the same whenever it is asked.
    private func dropsVote(for key: BatchKey) -> Bool {
        let hash = BLAKE2b256.hash(identity.publicKey.rawValue.bytes + key.account.rawValue.bytes + key.id.rawValue.bytes)
        return hash.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } % 1000 < dropVotesPermille
    }

    /// A verified vote (a peer's or this validator's own).
    mutating func received(_ vote: VerifiedVote) {
        counters.votesReceived += 1
        if isValidator && !session.sealed { sampler.observe(vote) }
        // In place: an assembler holds up to 200,000 batches' votes.
        guard let formed = assemblers[vote.vote.epoch]?.add(vote) else { return }
        for certificate in formed {
            counters.certificatesFormed += 1
            if let batch = pending[certificate.batch]?.batch {
                applyCertified(batch, certificate)
            } else {
                certifiedEarly[certificate.batch] = certificate
            }
        }
    }

    // MARK: Applying

    /// Applies a certified batch (and any certified successors it unblocks),
    /// persists the changes, and answers the waiting clients once they are durable.
    mutating func applyCertified(_ batch: SignedBatch, _ certificate: VerifiedCertificate) {
        if isValidator && session.sealed && session.decision == nil && batch.batch.seq >= checkpointedHeads[batch.signer] ?? 0 {
            // Sealed: the ledger stays at the report until the cut; only what the cut needs applies.
            guard let head = cutTarget?.heads[batch.signer], batch.batch.seq < head.nextSeq else {
                if authority.state(of: batch.signer).nextSeq <= batch.batch.seq { withheld[BatchKey(batch)] = (batch, certificate) }
                return
            }
        }
        let application: Authority.Application
        do throws(LedgerError) {
            application = try authority.apply(batch, certificate)
        } catch {
            out.append(.log(.critical, "a certificate could not be applied: \(error)"))
            return
        }
        switch application {
        case .alreadyFinal:
            finished(BatchKey(batch))
        case .waitingForPredecessor:
            catchUp(batch.signer)
        case .applied(let applied):
            var changes = LedgerChanges()
            for account in applied.changedAccounts { changes.accounts[account] = authority.state(of: account) }
            // Stake moves with operations (version-2 batches) only.
            for final in applied.batches where !final.batch.operations.isEmpty {
                changes.stakes[final.signer] = .some(authority.stakes[final.signer])
                changes.unbondingDebt = authority.unbondingDebt
            }
            changes.releasedLocks = applied.releasedLocks
            changes.feePool = authority.feePool
            changes.feePoolDebt = authority.feePoolDebt
            changes.burned = authority.burned
            if isValidator && !session.sealed { for final in applied.batches { sampler.markFinal(BatchKey(final)) } }
            for final in applied.batches where final.batch.seq >= checkpointedHeads[final.signer] ?? 0 && touched.insert(final.signer).inserted {
                changes.touched.insert(final.signer)
            }
            var encoded: [[UInt8]] = []
            for (final, finalCertificate) in zip(applied.batches, applied.certificates) {
                let bytes = finalCertificate.certificate.encoded()
                encoded.append(bytes)
                changes.finalBatches.append((final, bytes, now))
            }
            out.append(.persist(changes))
            if approach != nil { for final in applied.batches { approached(final.signer) } }
            var answers: [Action] = []
            for (final, bytes) in zip(applied.batches, encoded) {
                let key = BatchKey(final)
                counters.batchesFinal += 1
                counters.transfersFinal += final.batch.transfers.count
                recentFinal[key] = bytes
                // Nothing is reported final before it is durable here.
                let ack = Ack(id: final.id, seq: final.batch.seq, status: .final, cert: bytes)
                for waiter in waiters.removeValue(forKey: key) ?? [] { answers.append(.reply(waiter.id, ack)) }
                finished(key)
            }
            if !answers.isEmpty { out.append(.afterDurable(answers)) }
            for followUp in applied.followUps {
                switch followUp.decision {
                case .vote(let id, let lockIsNew):
                    enqueueVote(BatchKey(account: followUp.batch.signer, id: id), newLock: lockIsNew ? authority.locks[followUp.batch.signer] : nil)
                case .rejected(let rejection):
                    for waiter in waiters.removeValue(forKey: BatchKey(followUp.batch)) ?? [] {
                        reject(followUp.batch, rejection, waiter.id)
                    }
                case .waiting, .belowNext:
                    break
                }
            }
        }
    }

    private mutating func finished(_ key: BatchKey) {
        pending.removeValue(forKey: key)
        certifiedEarly.removeValue(forKey: key)
        for epoch in assemblers.keys { assemblers[epoch]?.forget(key) }
        refusals[key] = nil
    }

    /// Fetches the missing certified batches of `account` from a peer.
    private mutating func catchUp(_ account: AccountID) {
        guard !peers.isEmpty, fetching.insert(account).inserted else { return }
        out.append(.fetch(account: account, from: authority.state(of: account).nextSeq, upTo: .max, peer: nil))
    }
}

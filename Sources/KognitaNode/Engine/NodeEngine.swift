import KognitaCore
import KognitaLedger
import KognitaSystem
import Logging

/// The node's state machine around the pure ``Authority``: it decides on
/// batches, gathers votes into certificates, applies them, makes every change
/// durable through the ``GroupCommitter`` before anyone is told, and answers
/// the clients waiting for their batches. It does no networking itself: it
/// sends through ``PeerLink``s and is fed by ``NodePeerHandler`` (which checks
/// signatures before anything reaches here, off this actor).
public actor NodeEngine {
    /// The committee of the epoch this node is in (it changes at each checkpoint).
    public internal(set) var committee: Committee
    public let identity: SigningKey
    /// Whether this node sits on the current committee.
    public internal(set) var isValidator: Bool
    /// Every committee known, for checking votes and certificates of any epoch.
    public let committees: CommitteeBook
    let store: LedgerStore
    let committer: GroupCommitter
    let metrics: NodeMetrics
    let logger: Logger

    var authority: Authority
    /// One per epoch whose votes may still arrive: the current and the previous.
    var assemblers: [UInt64: CertificateAssembler] = [:]
    /// Peers that are nodes (validators and full nodes), by identity: the latest link of each.
    var nodeLinks: [PublicKey: PeerLink] = [:]
    var clientLinks: Set<PeerLink> = []
    /// Whether the startup catch-up is done: until then the node neither votes nor takes submissions.
    public private(set) var ready = false

    /// Batches known here and not final yet, with when they were last forwarded.
    var pending = BoundedMap<BatchKey, PendingBatch>(capacity: 50_000)
    /// Certificates formed before their batch arrived here.
    var certifiedEarly = BoundedMap<BatchKey, VerifiedCertificate>(capacity: 50_000)
    /// Recently applied batches' certificates, to answer resends without a read.
    var recentFinal = BoundedMap<BatchKey, RecentFinal>(capacity: 20_000)
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
    /// Counters for `/v1/status`.
    public private(set) var counters = Counters()

    // Epochs (NodeEngine+Epochs.swift).
    /// The end of the current epoch: seal, agreement, checkpoint.
    var session: EpochSession
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
    struct CutApproach {
        let cut: EpochCut
        var purposes: [CutPurpose]
        var missing: [AccountID: UInt64]
    }
    /// Bodies of the headers this node built, by digest, for adopting the decided one.
    var builtBodies: [Bytes32: CheckpointBodies] = [:]
    /// Batches decided while sealed: locked, voted on in the next epoch.
    var deferredVotes: [BatchKey] = []
    /// Votes of an epoch whose committee is not known yet (its checkpoint is being decided).
    var futureVotes: [Vote] = []
    static let maxFutureVotes = 4_096
    var fetchingCheckpoints = false
    /// Own agreement messages already in the write-ahead log (resends are not logged again).
    var loggedAgreement: Set<CheckpointAgreement.Message> = []
    /// Called after each checkpoint is adopted, with the new committee and
    /// its members' registered addresses (the node updates whom it dials).
    var onAdopted: (@Sendable (Committee, [PublicKey: String]) -> Void)?

    public struct Counters: Sendable, Hashable, Codable {
        public var batchesReceived = 0
        public var batchesFinal = 0
        public var transfersFinal = 0
        public var votesSent = 0
        public var certificatesFormed = 0
        public var rejected = 0
        public var catchUpBatches = 0
    }

    struct PendingBatch {
        let batch: SignedBatch
        var forwardedAt: ContinuousClock.Instant?
    }

    struct RecentFinal {
        let certificate: [UInt8]
        let ticket: GroupCommitter.Ticket
    }

    /// A client waiting for a batch's outcome.
    struct Waiter {
        let since: ContinuousClock.Instant
        let reply: @Sendable (Ack) -> Void
    }

    struct Refusals {
        var weight: UInt64 = 0
        var validators: Set<PublicKey> = []
        var first: Rejection
    }

    /// Votes are sent when this many batches are queued, or after ``voteDelay``.
    static let voteBatchSize = 512
    static let voteDelay = Duration.milliseconds(2)
    /// A pending batch a client resends is forwarded again after this long.
    static let reforwardAfter = Duration.seconds(2)

    /// An engine over `authority`, in the epoch after the last of
    /// `checkpoints` (epoch 0 with none). `start` is genesis's `start_ms`,
    /// `carried` the last checkpoint's carried locks, `touched` the accounts
    /// applied since it (all as the store kept them).
    public init(genesisCommittee: Committee, genesisDigest: Bytes32, start: UInt64, checkpoints: [SignedCheckpoint],
                carried: [AccountID: CarriedLock], touched: Set<AccountID>,
                ownAgreementMessages: [(epoch: UInt64, message: CheckpointAgreement.Message)] = [], identity: SigningKey, authority: Authority,
                store: LedgerStore, committer: GroupCommitter, metrics: NodeMetrics, logger: Logger) throws {
        let book = CommitteeBook(genesis: genesisCommittee)
        for checkpoint in checkpoints { book.add(try checkpoint.header.committee()) }
        let current = book.latest
        committees = book
        committee = current
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
        // What this validator signed in this epoch before it stopped: it repeats it, never contradicts it.
        let own = ownAgreementMessages.filter { $0.epoch == current.epoch }.map(\.message)
        session.restore(own)
        loggedAgreement = Set(own)
        self.store = store
        self.committer = committer
        self.metrics = metrics
        self.logger = logger
    }

    /// Sets the hook called after each adopted checkpoint.
    public func setOnAdopted(_ hook: @escaping @Sendable (Committee, [PublicKey: String]) -> Void) { onAdopted = hook }

    // MARK: Queries

    /// The account's head as this node knows it (final state, in memory).
    public func head(of account: AccountID) -> AccountHead { authority.state(of: account).head }

    /// Next seqs of `accounts`, for comparing with a peer's heads.
    func nextSeqs(_ accounts: [AccountID]) -> [UInt64] { accounts.map { authority.state(of: $0).nextSeq } }

    /// What `/v1/status` reports of the engine, taken in one turn of the
    /// actor so that its figures agree with each other.
    public struct Snapshot: Sendable {
        public var identity: PublicKey
        public var isValidator: Bool
        public var ready: Bool
        public var peers: [(identity: PublicKey, role: PeerRole, remote: String)]
        public var clients: Int
        public var accounts: Int
        public var digest: Bytes32
        public var totalMoney: Int128
        public var feePool: Amount
        public var pendingBatches: Int
        public var counters: Counters
        public var committee: Committee
        /// Where each committee member said it is reached (its registration), when known.
        public var addresses: [PublicKey: String]
        public var epoch: EpochStatus
    }

    /// The engine's state for `/v1/status`, all from one moment.
    public func snapshot() -> Snapshot {
        Snapshot(identity: identity.publicKey, isValidator: isValidator, ready: ready,
                 peers: nodeLinks.values.map { ($0.identity, $0.role, $0.remote) }, clients: clientLinks.count,
                 accounts: authority.accounts.count, digest: authority.stateDigest, totalMoney: authority.totalMoney,
                 feePool: authority.feePool, pendingBatches: pending.count, counters: counters, committee: committee,
                 addresses: committeeAddresses(), epoch: epochStatus())
    }

    /// The first registered address of each committee member.
    func committeeAddresses() -> [PublicKey: String] {
        var result: [PublicKey: String] = [:]
        for validator in committee.validators {
            for account in authority.candidateAccounts[validator.id] ?? [] {
                if let address = authority.stakes[account]?.candidate?.addresses.first { result[validator.id] = address }
            }
        }
        return result
    }

    /// Identities of connected node peers.
    public func connectedPeers() -> [PeerLink] { Array(nodeLinks.values) }

    // MARK: Links

    func linkOpened(_ link: PeerLink) {
        switch link.role {
        case .client: clientLinks.insert(link)
        case .validator, .fullNode:
            if let old = nodeLinks.updateValue(link, forKey: link.identity), old !== link { old.close() }
        }
        metrics.peerConnections.increment()
    }

    func linkClosed(_ link: PeerLink) {
        metrics.peerConnections.decrement()
        clientLinks.remove(link)
        if nodeLinks[link.identity] === link { nodeLinks[link.identity] = nil }
    }

    /// Lets the node vote and take submissions (after the startup catch-up).
    func becomeReady() {
        guard !ready else { return }
        ready = true
        logger.info("caught up with peers; \(isValidator ? "voting" : "following") from now on",
                    metadata: ["accounts": "\(authority.accounts.count)", "digest": "\(authority.stateDigest.hex.prefix(16))"])
    }

    // MARK: Submissions

    /// A batch from a client (a bridge, the HTTP API) that passed its
    /// signature check. `reply` gets `accepted`, then `final` or `rejected`
    /// (or one of those straight away).
    public func submit(_ batch: SignedBatch, reply: @escaping @Sendable (Ack) -> Void) {
        counters.batchesReceived += 1
        metrics.batchesReceived.increment()
        let key = BatchKey(batch), seq = batch.batch.seq
        let state = authority.state(of: batch.signer)
        guard ready else {
            return reject(batch, Rejection(.overloaded, "the node is catching up with its peers; resend shortly", head: state.head), reply)
        }
        guard batch.batch.network == committee.network else {
            return reject(batch, Rejection(.wrongNetwork, "the batch is for network \(batch.batch.network); this is \(committee.network)", head: state.head), reply)
        }
        if seq < state.nextSeq { return answerFinalOrStale(batch, head: state.head, reply) }
        if isValidator && session.sealed {
            // Sealed: no new votes in this epoch; decided after the checkpoint.
            guard seq - state.nextSeq <= Authority.lookahead else {
                return reject(batch, Rejection(.gap, "seq \(seq) is beyond the account's next seq \(state.nextSeq) by more than \(Authority.lookahead)", head: state.head), reply)
            }
        } else if isValidator {
            switch authority.handle(batch) {
            case .vote(_, let lockIsNew):
                enqueueVote(key, newLock: lockIsNew ? authority.locks[batch.signer] : nil)
            case .waiting:
                break
            case .belowNext(let head):
                return answerFinalOrStale(batch, head: head, reply)
            case .rejected(let rejection):
                return reject(batch, rejection, reply)
            }
        } else if seq - state.nextSeq > Authority.lookahead {
            return reject(batch, Rejection(.gap, "seq \(seq) is beyond the account's next seq \(state.nextSeq) by more than \(Authority.lookahead)", head: state.head), reply)
        }
        addWaiter(key, Waiter(since: .now, reply: reply))
        reply(Ack(id: batch.id, seq: seq, status: .accepted))
        remember(batch, forward: true)
    }

    /// The most clients waiting on one batch (a device that resends keeps
    /// only its latest few waits; the oldest are dropped unanswered).
    static let maxWaitersPerBatch = 8
    /// How long a client's wait for a final answer is kept.
    static let waiterLifetime = Duration.seconds(120)

    private func addWaiter(_ key: BatchKey, _ waiter: Waiter) {
        var list = waiters[key] ?? []
        if list.count >= Self.maxWaitersPerBatch { list.removeFirst(list.count - Self.maxWaitersPerBatch + 1) }
        list.append(waiter)
        waiters[key] = list
    }

    /// Drops waits older than ``waiterLifetime`` (batches that never became
    /// final: a frozen account, a lost predecessor), so they cannot pile up.
    func expireWaiters() {
        let cutoff = ContinuousClock.now - Self.waiterLifetime
        for (key, list) in waiters {
            let kept = list.filter { $0.since > cutoff }
            if kept.isEmpty {
                waiters[key] = nil
                refusals[key] = nil
            } else if kept.count != list.count {
                waiters[key] = kept
            }
        }
    }

    /// ``submit(_:reply:)`` as a stream of acks that ends after `final` or `rejected`.
    public func submit(_ batch: SignedBatch) -> AsyncStream<Ack> {
        let (acks, continuation) = AsyncStream.makeStream(of: Ack.self)
        submit(batch) { ack in
            continuation.yield(ack)
            if ack.status != .accepted { continuation.finish() }
        }
        return acks
    }

    private func reject(_ batch: SignedBatch, _ rejection: Rejection, _ reply: @Sendable (Ack) -> Void) {
        counters.rejected += 1
        metrics.rejected(rejection.reason)
        reply(Self.rejectedAck(batch, rejection))
    }

    static func rejectedAck(_ batch: SignedBatch, _ rejection: Rejection) -> Ack {
        Ack(id: batch.id, seq: batch.batch.seq, status: .rejected, reason: rejection.reason,
            detail: String(rejection.detail.prefix(200)), head: rejection.head)
    }

    /// The batch's seq is final here: `final` again when it is this batch, `stale` otherwise.
    private func answerFinalOrStale(_ batch: SignedBatch, head: AccountHead, _ reply: @escaping @Sendable (Ack) -> Void) {
        let key = BatchKey(batch)
        if let recent = recentFinal[key] {
            let committer = self.committer
            let ack = Ack(id: batch.id, seq: batch.batch.seq, status: .final, cert: recent.certificate)
            Task { try await committer.durable(recent.ticket); reply(ack) }
            return
        }
        // An older batch: its certificate is on disk. The read blocks, so it
        // runs on the readers' threads, not on the actor (whose thread is one
        // of Swift's cooperative few).
        let store = self.store, logger = self.logger
        Task(executorPreference: NodeIO.readers) {
            var final: LedgerStore.FinalBatch?
            do { final = try store.finalBatch(account: batch.signer, seq: batch.batch.seq) } catch {
                logger.error("reading a final batch failed: \(error)")
            }
            await self.answerFromStore(batch, head: head, final: final, reply)
        }
    }

    private func answerFromStore(_ batch: SignedBatch, head: AccountHead, final: LedgerStore.FinalBatch?, _ reply: @escaping @Sendable (Ack) -> Void) {
        if let final {
            if final.batch.id == batch.id {
                return reply(Ack(id: batch.id, seq: batch.batch.seq, status: .final, cert: final.certificate))
            }
            return reject(batch, Rejection(.stale, "batch \(final.batch.id) is final at seq \(batch.batch.seq)", head: head), reply)
        }
        reject(batch, Rejection(.stale, "seq \(batch.batch.seq) is already final (the account's next seq is \(head.nextSeq))", head: head), reply)
    }

    /// Keeps a batch until it is final, forwards it to the peers (again, when
    /// a resend finds it pending for a while), and applies it at once when its
    /// certificate came first.
    private func remember(_ batch: SignedBatch, forward: Bool) {
        let key = BatchKey(batch)
        var entry = pending[key] ?? PendingBatch(batch: batch, forwardedAt: nil)
        if forward, entry.forwardedAt.map({ $0.duration(to: .now) > Self.reforwardAfter }) ?? true {
            entry.forwardedAt = .now
            broadcast(.forward(envelope: batch.envelope))
            metrics.batchesForwarded.increment()
        }
        pending[key] = entry
        if let certificate = certifiedEarly.removeValue(forKey: key) { applyCertified(batch, certificate) }
    }

    // MARK: From peers

    /// A batch a peer forwarded (its signature checked).
    func forwarded(_ batch: SignedBatch, from link: PeerLink) {
        metrics.batchesReceived.increment()
        let key = BatchKey(batch)
        if authority.state(of: batch.signer).nextSeq > batch.batch.seq { return }
        if isValidator && ready && !session.sealed {
            switch authority.handle(batch) {
            case .vote(_, let lockIsNew):
                enqueueVote(key, newLock: lockIsNew ? authority.locks[batch.signer] : nil)
            case .waiting, .belowNext:
                break
            case .rejected(let rejection):
                metrics.rejected(rejection.reason)
                link.send(.refusal(batch: key, reason: rejection.reason, detail: rejection.detail, head: rejection.head))
            }
        }
        remember(batch, forward: false)
    }

    /// A validator refused a batch this node forwarded.
    func refused(_ key: BatchKey, _ rejection: Rejection, by validator: PublicKey) {
        guard let weight = committee.weight(of: validator), waiters[key] != nil else { return }
        var tally = refusals[key] ?? Refusals(first: rejection)
        guard tally.validators.insert(validator).inserted else { return }
        tally.weight += weight
        refusals[key] = tally
        // Once the refusals weigh more than the rest could make up, no quorum can form.
        if tally.weight > committee.totalWeight - committee.quorumWeight, let batch = pending[key]?.batch {
            refusals[key] = nil
            for waiter in waiters.removeValue(forKey: key) ?? [] { reject(batch, tally.first, waiter.reply) }
        }
    }

    // MARK: Votes

    func enqueueVote(_ key: BatchKey, newLock: Lock?) {
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
            Task {
                try? await Task.sleep(for: Self.voteDelay)
                await self.flushVotes()
            }
        }
    }

    /// Signs one vote for the queued batches once their locks are on disk, and sends it to every peer.
    private func flushVotes() {
        voteFlushScheduled = false
        while !voteQueue.isEmpty {
            let keys = Array(voteQueue.prefix(Vote.maxBatches))
            voteQueue.removeFirst(keys.count)
            for key in keys { voteQueued.remove(key) }
            let ticket = committer.submit(lockChanges)
            lockChanges = LedgerChanges()
            let committer = self.committer, key = identity, committee = self.committee
            counters.votesSent += 1
            metrics.votesSent.increment()
            Task {
                do {
                    // A validator never lets a vote out before its lock is durable.
                    try await committer.durable(ticket)
                } catch {
                    return self.storageFailed(error)
                }
                guard committee.contains(key.publicKey), let vote = Vote.signVerified(keys: keys, committee: committee, with: key) else { return }
                self.ownVote(vote)
            }
        }
    }

    private func ownVote(_ vote: VerifiedVote) {
        broadcast(.vote(vote.vote))
        received(vote)
    }

    /// A verified vote (a peer's or our own).
    func received(_ vote: VerifiedVote) {
        metrics.votesReceived.increment()
        // In place: an assembler holds up to 200,000 batches' votes.
        guard let formed = assemblers[vote.vote.epoch]?.add(vote) else { return }
        for certificate in formed {
            counters.certificatesFormed += 1
            metrics.certificatesFormed.increment()
            if let batch = pending[certificate.batch]?.batch {
                applyCertified(batch, certificate)
            } else {
                certifiedEarly[certificate.batch] = certificate
            }
        }
    }

    // MARK: Applying

    /// Applies a certified batch (and any certified successors it unblocks),
    /// submits the changes for commit, and answers the waiting clients once
    /// they are durable.
    func applyCertified(_ batch: SignedBatch, _ certificate: VerifiedCertificate) {
        if isValidator && session.sealed && session.decision == nil {
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
            logger.critical("a certificate could not be applied: \(error)")
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
            }
            changes.releasedLocks = applied.releasedLocks
            changes.feePool = authority.feePool
            for final in applied.batches where touched.insert(final.signer).inserted { changes.touched.insert(final.signer) }
            let now = WallClock.unixMillis()
            var encoded: [[UInt8]] = []
            for (final, finalCertificate) in zip(applied.batches, applied.certificates) {
                let bytes = finalCertificate.certificate.encoded()
                encoded.append(bytes)
                changes.finalBatches.append((final, bytes, now))
            }
            let ticket = committer.submit(changes)
            if approach != nil { for final in applied.batches { approached(final.signer) } }
            for (final, bytes) in zip(applied.batches, encoded) {
                let key = BatchKey(final)
                counters.batchesFinal += 1
                counters.transfersFinal += final.batch.transfers.count
                metrics.batchesFinal.increment()
                metrics.transfersFinal.increment(by: Int64(final.batch.transfers.count))
                recentFinal[key] = RecentFinal(certificate: bytes, ticket: ticket)
                answerFinal(final, certificate: bytes, ticket: ticket)
                finished(key)
            }
            for followUp in applied.followUps {
                switch followUp.decision {
                case .vote(let id, let lockIsNew):
                    enqueueVote(BatchKey(account: followUp.batch.signer, id: id), newLock: lockIsNew ? authority.locks[followUp.batch.signer] : nil)
                case .rejected(let rejection):
                    for waiter in waiters.removeValue(forKey: BatchKey(followUp.batch)) ?? [] { reject(followUp.batch, rejection, waiter.reply) }
                case .waiting, .belowNext:
                    break
                }
            }
        }
    }

    private func answerFinal(_ batch: SignedBatch, certificate: [UInt8], ticket: GroupCommitter.Ticket) {
        guard let waiting = waiters.removeValue(forKey: BatchKey(batch)) else { return }
        let ack = Ack(id: batch.id, seq: batch.batch.seq, status: .final, cert: certificate)
        let committer = self.committer, metrics = self.metrics
        Task {
            // Nothing is reported final before it is durable here.
            do { try await committer.durable(ticket) } catch { return }
            for waiter in waiting {
                metrics.submitToFinal.record(waiter.since.duration(to: .now))
                waiter.reply(ack)
            }
        }
    }

    private func finished(_ key: BatchKey) {
        pending.removeValue(forKey: key)
        certifiedEarly.removeValue(forKey: key)
        for epoch in assemblers.keys { assemblers[epoch]?.forget(key) }
        refusals[key] = nil
    }

    /// A certified batch from a peer during catch-up (certificate verified off the actor).
    func caughtUp(_ batch: SignedBatch, _ certificate: VerifiedCertificate) {
        counters.catchUpBatches += 1
        metrics.catchUpBatches.increment()
        applyCertified(batch, certificate)
    }

    // MARK: Sending

    func broadcast(_ message: PeerMessage) {
        guard !nodeLinks.isEmpty else { return }
        let encoded = message.encoded()
        for link in nodeLinks.values { link.send(encoded: encoded) }
    }

    /// Fetches the missing certified batches of `account` from a peer.
    private func catchUp(_ account: AccountID) {
        guard fetching.insert(account).inserted, let link = nodeLinks.values.randomElement() else { return }
        let from = authority.state(of: account).nextSeq
        let synchronizer = Synchronizer(engine: self, committees: committees, logger: logger)
        Task {
            await synchronizer.fetch(account: account, from: from, upTo: .max, from: link)
            await self.doneFetching(account)
        }
    }

    private func doneFetching(_ account: AccountID) { fetching.remove(account) }

    func storageFailed(_ error: any Error) {
        logger.critical("the ledger database failed: \(error). The node stops rather than vote or answer without durable state.")
        fatalError("the ledger database failed: \(error)")
    }
}

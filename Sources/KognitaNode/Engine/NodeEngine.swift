import KognitaCore
import KognitaLedger
import KognitaSystem
import Logging

/// The shell around the pure ``NodeCore``: it turns what happens to the node
/// (a client's batch, a peer's message, the clock, a finished fetch) into the
/// core's events, and carries out the core's actions on the real links, the
/// ``GroupCommitter`` and the store. It decides nothing itself; every rule
/// lives in the core, where the whole-system simulation tests it.
///
/// It does no networking of its own: it sends through ``PeerLink``s and is
/// fed by ``NodePeerHandler`` (which checks signatures before anything
/// reaches here, off this actor).
public actor NodeEngine {
    var core: NodeCore
    public let identity: SigningKey
    /// Every committee known, for checking votes and certificates of any epoch.
    public let committees: CommitteeBook
    let store: LedgerStore
    let committer: GroupCommitter
    let metrics: NodeMetrics
    let logger: Logger

    /// Peers that are nodes (validators and full nodes), by identity: the latest link of each.
    var nodeLinks: [PublicKey: PeerLink] = [:]
    var clientLinks: Set<PeerLink> = []
    /// The clients waiting for answers, by the id the core knows them by.
    var replies: [NodeCore.WaiterID: Reply] = [:]
    var nextWaiter: NodeCore.WaiterID = 0
    /// The last changes handed to the committer: ``NodeCore/Action/afterDurable(_:)`` waits for it.
    var lastTicket: GroupCommitter.Ticket?
    /// The core's counters as last mirrored into the metrics.
    var mirrored = NodeCore.Counters()
    var fetchingCheckpoints = false
    /// Called after each checkpoint is adopted, with the new committee and
    /// its members' registered addresses (the node updates whom it dials).
    var onAdopted: (@Sendable (Committee, [PublicKey: String]) -> Void)?

    public typealias Counters = NodeCore.Counters

    struct Reply {
        let since: ContinuousClock.Instant
        let send: @Sendable (Ack) -> Void
    }

    /// The committee of the epoch this node is in (it changes at each checkpoint).
    public var committee: Committee { core.committee }
    /// Whether this node sits on the current committee.
    public var isValidator: Bool { core.isValidator }
    /// The checkpoints adopted, in order.
    public var checkpoints: [SignedCheckpoint] { core.checkpoints }
    /// Whether the startup catch-up is done: until then the node neither votes nor takes submissions.
    public var ready: Bool { core.ready }
    /// Counters for `/v1/status`.
    public var counters: Counters { core.counters }

    /// An engine over `authority`, in the epoch after the last of
    /// `checkpoints` (epoch 0 with none). `start` is genesis's `start_ms`,
    /// `carried` the last checkpoint's carried locks, `touched` the accounts
    /// applied since it (all as the store kept them).
    public init(genesisCommittee: Committee, genesisDigest: Bytes32, start: UInt64, checkpoints: [SignedCheckpoint],
                carried: [AccountID: CarriedLock], lastCut: [UInt8]? = nil, touched: Set<AccountID>,
                ownAgreementMessages: [(epoch: UInt64, message: CheckpointAgreement.Message)] = [], identity: SigningKey, authority: Authority,
                store: LedgerStore, committer: GroupCommitter, metrics: NodeMetrics, logger: Logger, dropVotesPermille: UInt64 = 0) throws {
        let book = CommitteeBook(genesis: genesisCommittee)
        for checkpoint in checkpoints { book.add(try checkpoint.header.committee()) }
        committees = book
        core = try NodeCore(genesisCommittee: genesisCommittee, genesisDigest: genesisDigest, start: start, checkpoints: checkpoints,
                            carried: carried, lastCut: lastCut, touched: touched, ownAgreementMessages: ownAgreementMessages, identity: identity, authority: authority)
        core.dropVotesPermille = dropVotesPermille
        self.identity = identity
        self.store = store
        self.committer = committer
        self.metrics = metrics
        self.logger = logger
    }

    /// Sets the hook called after each adopted checkpoint.
    public func setOnAdopted(_ hook: @escaping @Sendable (Committee, [PublicKey: String]) -> Void) { onAdopted = hook }

    // MARK: Queries

    /// The account's head as this node knows it (final state, in memory).
    public func head(of account: AccountID) -> AccountHead { core.head(of: account) }

    /// Next seqs of `accounts`, for comparing with a peer's heads.
    func nextSeqs(_ accounts: [AccountID]) -> [UInt64] { accounts.map { core.authority.state(of: $0).nextSeq } }

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
        Snapshot(identity: identity.publicKey, isValidator: core.isValidator, ready: core.ready,
                 peers: nodeLinks.values.map { ($0.identity, $0.role, $0.remote) }, clients: clientLinks.count,
                 accounts: core.authority.accounts.count, digest: core.authority.stateDigest, totalMoney: core.authority.totalMoney,
                 feePool: core.authority.feePool, pendingBatches: core.pendingCount, counters: core.counters, committee: core.committee,
                 addresses: core.committeeAddresses(), epoch: epochStatus())
    }

    /// The candidates, their stakes and records, and the committee, all from one moment (`/v1/validators`).
    public func governance() -> (epoch: UInt64, stakes: [AccountID: Stake], ratings: RatingBook, committee: Committee) {
        (core.committee.epoch, core.authority.stakes.filter { $0.value.candidate != nil }, core.authority.ratings, core.committee)
    }

    /// The first registered address of each committee member.
    func committeeAddresses() -> [PublicKey: String] { core.committeeAddresses() }

    /// Identities of connected node peers.
    public func connectedPeers() -> [PeerLink] { Array(nodeLinks.values) }

    // MARK: Events in

    func linkOpened(_ link: PeerLink) {
        metrics.peerConnections.increment()
        switch link.role {
        case .client: clientLinks.insert(link)
        case .validator, .fullNode:
            if let old = nodeLinks.updateValue(link, forKey: link.identity), old !== link { old.close() }
            handle(.peers(Set(nodeLinks.keys)))
        }
    }

    func linkClosed(_ link: PeerLink) {
        metrics.peerConnections.decrement()
        clientLinks.remove(link)
        if nodeLinks[link.identity] === link {
            nodeLinks[link.identity] = nil
            handle(.peers(Set(nodeLinks.keys)))
        }
    }

    /// Lets the node vote and take submissions (after the startup catch-up).
    func becomeReady() { handle(.ready) }

    /// A batch from a client (a bridge, the HTTP API) that passed its
    /// signature check. `reply` gets `accepted`, then `final` or `rejected`
    /// (or one of those straight away).
    public func submit(_ batch: SignedBatch, reply: @escaping @Sendable (Ack) -> Void) {
        nextWaiter += 1
        replies[nextWaiter] = Reply(since: .now, send: reply)
        handle(.submit(batch, waiter: nextWaiter))
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

    func forwarded(_ batch: SignedBatch, from link: PeerLink) { handle(.forwarded(batch, from: link.identity)) }
    func refused(_ key: BatchKey, _ rejection: Rejection, by validator: PublicKey) { handle(.refused(key, rejection, by: validator)) }
    /// A verified vote of a peer.
    func received(_ vote: VerifiedVote) { handle(.vote(vote)) }
    /// A vote of an epoch this node has no committee for yet.
    func receivedFuture(_ vote: Vote) { handle(.futureVote(vote)) }
    /// A certified batch from a peer during catch-up (certificate verified off the actor).
    func caughtUp(_ batch: SignedBatch, _ certificate: VerifiedCertificate) { handle(.caughtUp(batch, certificate)) }
    func expireWaiters() { handle(.expireWaiters) }
    /// A node peer announced it is caught up to `epoch`.
    func progress(of peer: PublicKey, epoch: UInt64) { handle(.progress(peer, epoch: epoch)) }
    /// A proof of equivocation (from a peer or the API): checked, kept for
    /// this validator's next seal report and gossiped when new. Nil when it
    /// is taken (or already known), else why it was refused.
    public func received(evidence proof: EquivocationProof) -> String? {
        do throws(LedgerError) { try core.check(proof) } catch {
            core.counters.epochMessagesRefused += 1
            return error.message
        }
        handle(.evidence(proof))
        return nil
    }

    /// Hands one event to the core and carries out what it decides.
    func handle(_ event: NodeCore.Event) {
        perform(core.handle(event, now: WallClock.unixMillis()))
        mirrorCounters()
    }

    // MARK: Actions out

    private func perform(_ actions: [NodeCore.Action]) {
        for action in actions {
            switch action {
            case .reply(let id, let ack):
                let waiting = ack.status == .accepted ? replies[id] : replies.removeValue(forKey: id)
                guard let waiting else { continue }
                if ack.status == .final { metrics.submitToFinal.record(waiting.since.duration(to: .now)) }
                waiting.send(ack)
            case .forget(let ids):
                for id in ids { replies[id] = nil }
            case .persist(let changes):
                lastTicket = committer.submit(changes)
            case .afterDurable(let later):
                guard let ticket = lastTicket else {
                    perform(later)
                    continue
                }
                let committer = self.committer
                Task {
                    do { try await committer.durable(ticket) } catch { return self.storageFailed(error) }
                    self.perform(later)
                    self.mirrorCounters()
                }
            case .broadcast(let message):
                broadcast(message)
            case .send(let message, let peer):
                nodeLinks[peer]?.send(message)
            case .deliver(let event):
                perform(core.handle(event, now: WallClock.unixMillis()))
            case .readFinal(let batch, let head, let waiter):
                readFinal(batch, head: head, waiter: waiter)
            case .fetch(let account, let from, let upTo, let peer):
                guard let link = peer.flatMap({ nodeLinks[$0] }) ?? nodeLinks.values.randomElement() else {
                    handle(.fetchDone(account))
                    continue
                }
                let synchronizer = Synchronizer(engine: self, committees: committees, logger: logger)
                Task {
                    await synchronizer.fetch(account: account, from: from, upTo: upTo, from: link)
                    await self.handle(.fetchDone(account))
                }
            case .fetchForCut(let fetches, let cut, let epoch):
                fetchForCut(fetches, cut: cut, epoch: epoch)
            case .schedule(let event, let milliseconds):
                Task {
                    try? await Task.sleep(for: .milliseconds(Int64(clamping: milliseconds)))
                    await self.handle(event)
                }
            case .followChain(let peer):
                if let link = nodeLinks[peer] { Task { await self.followChain(with: link) } }
            case .adopted(let next, let addresses):
                committees.add(next)
                onAdopted?(next, addresses)
            case .log(let level, let message):
                switch level {
                case .info: logger.info("\(message)")
                case .warning: logger.warning("\(message)")
                case .error: logger.error("\(message)")
                case .critical: logger.critical("\(message)")
                }
            }
        }
    }

    /// Mirrors the core's counters into the Prometheus metrics.
    private func mirrorCounters() {
        let now = core.counters
        guard now != mirrored else { return }
        metrics.mirror(from: mirrored, to: now)
        mirrored = now
    }

    /// An older batch's certificate is on disk. The read blocks, so it runs
    /// on the readers' threads, not on the actor (whose thread is one of
    /// Swift's cooperative few).
    private func readFinal(_ batch: SignedBatch, head: AccountHead, waiter: NodeCore.WaiterID) {
        let store = self.store, logger = self.logger
        Task(executorPreference: NodeIO.readers) {
            var final: (batch: SignedBatch, certificate: [UInt8])?
            do {
                if let found = try store.finalBatch(account: batch.signer, seq: batch.batch.seq) { final = (found.batch, found.certificate) }
            } catch {
                logger.error("reading a final batch failed: \(error)")
            }
            await self.handle(.finalRead(batch, head: head, final: final, waiter: waiter))
        }
    }

    func broadcast(_ message: PeerMessage) {
        guard !nodeLinks.isEmpty else { return }
        let encoded = message.encoded()
        for link in nodeLinks.values { link.send(encoded: encoded) }
    }

    func storageFailed(_ error: any Error) {
        logger.critical("the ledger database failed: \(error). The node stops rather than vote or answer without durable state.")
        fatalError("the ledger database failed: \(error)")
    }
}

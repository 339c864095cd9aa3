import KognitaCore
import KognitaLedger
import KognitaSystem
import Logging

/// The engine's side of an epoch's end (docs/EPOCHS.md, section 4): it
/// carries out what the pure ``EpochSession`` decides. It seals (stops voting,
/// reports), brings the ledger to a cut (withheld certificates below it,
/// fetches from the reporters), builds and compares headers, and adopts the
/// decided checkpoint: the transitions, the committee switch, then the
/// certificates and batches held back meanwhile.
extension NodeEngine {
    /// What `/v1/status` and the CLI show of the epoch.
    public struct EpochStatus: Sendable {
        public var epoch: UInt64
        public var endMillis: UInt64
        public var sealed: Bool
        public var round: UInt32
        public var reports: Int
        public var lastCheckpoint: SignedCheckpoint?
    }

    public func epochStatus() -> EpochStatus {
        EpochStatus(epoch: committee.epoch, endMillis: session.endMillis, sealed: session.sealed,
                    round: session.agreement.round, reports: session.reports.count, lastCheckpoint: checkpoints.last)
    }

    /// The clock: seals when the epoch is over, resends, lets a waiting leader build.
    func epochTick(now: UInt64) {
        guard ready else { return }
        perform(session.handle(.tick(nowMillis: now)))
    }

    func received(sealReport report: SealReport) {
        // Full nodes follow the decisions (``received(checkpoint:from:)``), not the agreement.
        guard isValidator else { return }
        perform(session.handle(.report(report)))
    }

    func received(proposal: CheckpointProposal, reports: [SealReport]) {
        guard isValidator, proposal.header.epoch == committee.epoch else { return }
        perform(session.handle(.proposal(proposal, reports: reports, nowMillis: WallClock.unixMillis())))
    }

    func received(checkpointVote vote: CheckpointVote) {
        guard isValidator else { return }
        perform(session.handle(.vote(vote)))
    }

    private func epochTimeout(_ timeout: CheckpointAgreement.Timeout, epoch: UInt64) {
        guard epoch == committee.epoch else { return }
        perform(session.handle(.timeout(timeout)))
    }

    private func perform(_ actions: [EpochSession.Action]) {
        for action in actions {
            switch action {
            case .seal:
                seal()
            case .sendReport(let report):
                broadcast(.sealReport(report))
            case .send(let message, let reports):
                sendDurably(message, reports: reports)
            case .schedule(let timeout, let milliseconds):
                let epoch = committee.epoch
                Task {
                    try? await Task.sleep(for: .milliseconds(Int64(clamping: milliseconds)))
                    await self.epochTimeout(timeout, epoch: epoch)
                }
            case .build(let cut, let timestamp, let round):
                bringToCut(cut, then: .build(timestamp: timestamp, round: round))
            case .check(let header, let cut):
                bringToCut(cut, then: .check(header))
            case .decided(let checkpoint, _):
                decided(checkpoint)
            case .refused(let why):
                metrics.epochMessagesRefused.increment()
                logger.warning("refused: \(why)")
            }
        }
    }

    /// Sends an agreement message; this validator's own go to its
    /// write-ahead log first, so that after a crash it repeats them rather
    /// than contradict them (``CheckpointAgreement/restore(_:)``).
    private func sendDurably(_ message: CheckpointAgreement.Message, reports: [SealReport]) {
        let wire: PeerMessage
        let own: Bool
        switch message {
        case .proposal(let proposal):
            wire = .checkpointProposal(proposal, reports: reports)
            own = proposal.proposer == identity.publicKey
        case .vote(let vote):
            wire = .checkpointVote(vote)
            own = vote.validator == identity.publicKey
        }
        guard own, loggedAgreement.insert(message).inserted else { return broadcast(wire) }
        var changes = LedgerChanges()
        changes.agreementMessages = [(committee.epoch, message)]
        let ticket = committer.submit(changes)
        let committer = self.committer
        Task {
            do { try await committer.durable(ticket) } catch { return self.storageFailed(error) }
            self.broadcast(wire)
        }
    }

    // MARK: Sealing

    /// Stops voting in the epoch and reports: the heads of the accounts
    /// applied in it, the locks held, and the candidate nodes connected here.
    private func seal() {
        guard isValidator, !session.sealed else { return }
        for (batch, certificate) in authority.takeCertifiedAhead() { withheld[BatchKey(batch)] = (batch, certificate) }
        var heads = touched.map { account in
            let state = authority.state(of: account)
            return SealReport.Head(account: account, nextSeq: state.nextSeq, lastFinal: state.lastFinal)
        }
        if heads.count > SealReport.maxHeads {
            // Beyond one frame; docs/EPOCHS.md says how reports by range will lift this.
            logger.error("\(heads.count) accounts were active this epoch; the seal report names the \(SealReport.maxHeads) with the highest seqs")
            heads = Array(heads.sorted { $0.nextSeq > $1.nextSeq }.prefix(SealReport.maxHeads))
        }
        let locks = authority.locks.prefix(SealReport.maxLocks).map { SealReport.LockEntry(account: $0.key, seq: $0.value.seq, id: $0.value.id) }
        let attested = nodeLinks.keys.filter { authority.candidateAccounts[$0] != nil }
        let report = SealReport.sign(network: committee.network, epoch: committee.epoch, heads: heads, locks: locks,
                                     attested: attested, with: identity)
        logger.info("sealed epoch \(committee.epoch)", metadata: ["heads": "\(heads.count)", "locks": "\(locks.count)"])
        perform(session.handle(.sealed(report)))
    }

    // MARK: The cut

    enum CutPurpose {
        case build(timestamp: UInt64, round: UInt32)
        case check(CheckpointHeader)
    }

    /// Brings the ledger to `cut`, then builds (as leader) or checks a
    /// header. Withheld certificates below the cut apply at once; most of
    /// the rest are certificates still forming here from votes in flight,
    /// so the node waits ``cutGrace`` for them before it fetches what is
    /// still missing from the validators that reported the highest heads.
    /// The build or check runs as soon as the last account reaches the cut.
    private func bringToCut(_ cut: EpochCut, then purpose: CutPurpose) {
        let epoch = committee.epoch
        if var current = approach, current.cut == cut {
            current.purposes.append(purpose)
            approach = current
            return
        }
        // A new cut (a later round's, which holds at least as much): what
        // waited on the old one is answered from the ledger as it stands.
        if let old = approach {
            approach = nil
            for waiting in old.purposes { finish(old.cut, waiting, epoch: epoch) }
        }
        cutTarget = cut
        let past = authority.distance(to: cut, touched: touched).filter { $0.value.have > $0.value.need }
        guard past.isEmpty else {
            logger.warning("a proposed cut of epoch \(epoch) is behind this node's ledger at \(past.count) accounts; refusing it")
            return finish(cut, purpose, epoch: epoch)
        }
        for (key, entry) in withheld.sorted(by: { $0.value.0.batch.seq < $1.value.0.batch.seq })
        where (cut.heads[key.account]?.nextSeq ?? 0) > entry.0.batch.seq {
            withheld[key] = nil
            applyCertified(entry.0, entry.1)
        }
        let missing = authority.distance(to: cut, touched: touched).mapValues(\.need)
        guard !missing.isEmpty else { return finish(cut, purpose, epoch: epoch) }
        approach = CutApproach(cut: cut, purposes: [purpose], missing: missing)
        Task {
            try? await Task.sleep(for: Self.cutGrace)
            await self.fetchMissing(cut, epoch: epoch)
        }
    }

    /// How long a validator waits for certificates in flight before it fetches what its cut still misses.
    static let cutGrace = Duration.milliseconds(100)

    /// Called for each applied batch while approaching a cut.
    func approached(_ account: AccountID) {
        guard var current = approach, let need = current.missing[account], authority.state(of: account).nextSeq >= need else { return }
        current.missing[account] = nil
        approach = current
        if current.missing.isEmpty { completeApproach() }
    }

    private func fetchMissing(_ cut: EpochCut, epoch: UInt64) async {
        guard let current = approach, current.cut == cut, epoch == committee.epoch else { return }
        var sources: [AccountID: (PeerLink, have: UInt64, need: UInt64)] = [:]
        for (account, need) in current.missing {
            let reporter = cut.reports.first { report in report.heads.contains { $0.account == account && $0.nextSeq == need } }?.validator
            guard let link = reporter.flatMap({ nodeLinks[$0] }) ?? nodeLinks.values.randomElement() else { continue }
            sources[account] = (link, authority.state(of: account).nextSeq, need)
        }
        logger.info("fetching \(sources.count) accounts' final batches to reach the cut of epoch \(epoch)")
        let synchronizer = Synchronizer(engine: self, committees: committees, logger: logger)
        await withTaskGroup(of: Void.self) { group in
            for (account, source) in sources {
                group.addTask { await synchronizer.fetch(account: account, from: source.have, upTo: source.need, from: source.0) }
            }
        }
        // Whatever could be fetched is applied: answer now, reached or not.
        if let still = approach, still.cut == cut, epoch == committee.epoch { completeApproach() }
    }

    private func completeApproach() {
        guard let done = approach else { return }
        approach = nil
        for purpose in done.purposes { finish(done.cut, purpose, epoch: committee.epoch) }
    }

    private func finish(_ cut: EpochCut, _ purpose: CutPurpose, epoch: UInt64) {
        guard epoch == committee.epoch, session.decision == nil else { return }
        let atCut = authority.distance(to: cut, touched: touched).isEmpty
        switch purpose {
        case .build(let timestamp, let round):
            guard atCut else {
                logger.warning("could not reach the cut of epoch \(epoch) to propose in round \(round)")
                return perform(session.handle(.built(nil, round: round)))
            }
            let built = CheckpointBuilder.build(authority: authority, cut: cut, previous: session.previous, timestamp: timestamp)
            builtBodies[built.header.digest] = built.bodies
            perform(session.handle(.built(built.header, round: round)))
        case .check(let header):
            guard atCut else { return perform(session.handle(.checked(header.digest, valid: false))) }
            let built = CheckpointBuilder.build(authority: authority, cut: cut, previous: session.previous, timestamp: header.timestamp)
            let valid = built.header == header
            if valid { builtBodies[header.digest] = built.bodies } else {
                logger.warning("the proposed checkpoint of epoch \(epoch) is not the one this node builds from its cut",
                               metadata: ["proposed": "\(header.digest.hex.prefix(16))", "built": "\(built.header.digest.hex.prefix(16))"])
            }
            perform(session.handle(.checked(header.digest, valid: valid)))
        }
    }

    // MARK: Adopting

    /// The agreement decided: adopt with the bodies built here, or wait for a peer's.
    private func decided(_ checkpoint: SignedCheckpoint) {
        let digest = checkpoint.header.digest
        guard let bodies = builtBodies[digest] else {
            logger.info("checkpoint \(checkpoint.header.epoch) decided; waiting for its bodies from a peer")
            return
        }
        adopt(LedgerStore.StoredCheckpoint(signed: checkpoint, bodies: bodies.bytes))
    }

    /// A decided checkpoint from a peer (decoded, bodies matched against its header).
    func received(checkpoint: LedgerStore.StoredCheckpoint, from link: PeerLink?) {
        let epoch = checkpoint.signed.header.epoch
        if epoch > committee.epoch {
            // This node is behind the chain: fetch the checkpoints in between.
            if let link { Task { await self.followChain(with: link) } }
            return
        }
        guard epoch == committee.epoch else { return }
        do throws(LedgerError) { try checkpoint.signed.verify(for: committee) } catch {
            metrics.epochMessagesRefused.increment()
            logger.warning("refused a checkpoint of epoch \(epoch)\(link.map { " from \($0)" } ?? ""): \(error)")
            return
        }
        guard checkpoint.signed.header.previous == session.previous else {
            metrics.epochMessagesRefused.increment()
            logger.error("checkpoint \(epoch) does not chain to this node's previous header; is this node on a fork of genesis?")
            return
        }
        adopt(checkpoint)
    }

    /// Enters the next epoch: the checkpoint's transitions and carried locks,
    /// the committee switch, all durable in one transaction; then the
    /// withheld certificates, the batches held back, the early votes.
    func adopt(_ checkpoint: LedgerStore.StoredCheckpoint) {
        let header = checkpoint.signed.header
        guard header.epoch == committee.epoch else { return }
        let next: Committee, carried: [AccountID: CarriedLock], transitions: EpochTransitions
        do throws(LedgerError) {
            next = try header.committee()
            guard let carriedBody = checkpoint.bodies[.carriedLocks], let transitionsBody = checkpoint.bodies[.transitions] else {
                throw LedgerError("the checkpoint came without its carried locks or transitions")
            }
            carried = try CheckpointBodies.carriedLocks(decoding: carriedBody)
            transitions = try EpochTransitions(decoding: transitionsBody)
            guard transitions.epoch == next.epoch else { throw LedgerError("its transitions are for epoch \(transitions.epoch)") }
        } catch {
            logger.error("cannot adopt checkpoint \(header.epoch): \(error)")
            return
        }
        let wasValidator = isValidator
        authority.enterEpoch(next, carried: carried, transitions: transitions)
        var changes = LedgerChanges()
        for entry in transitions.entries {
            changes.accounts[entry.account] = authority.state(of: entry.account)
            changes.stakes[entry.account] = .some(authority.stakes[entry.account])
        }
        changes.carriedLocks = authority.carriedLocks
        var stored = checkpoint
        stored.adoptedAtMillis = WallClock.unixMillis()
        changes.checkpoints = [stored]
        _ = committer.submit(changes)

        committees.add(next)
        committee = next
        isValidator = next.contains(identity.publicKey)
        assemblers[next.epoch] = CertificateAssembler(committee: next)
        for epoch in assemblers.keys where epoch + 1 < next.epoch { assemblers[epoch] = nil }
        checkpoints.append(checkpoint.signed)
        touched = []
        cutTarget = nil
        approach = nil
        loggedAgreement = []
        builtBodies = [:]
        session = EpochSession(committee: next, rules: authority.rules, previous: header.digest, previousTimestamp: header.timestamp,
                               previouslyCarried: carried, key: identity)
        metrics.checkpointsAdopted.increment()
        logger.info("checkpoint \(header.epoch) adopted; epoch \(next.epoch) begins", metadata: [
            "digest": "\(header.digest.hex.prefix(16))", "round": "\(checkpoint.signed.round)",
            "committee": "\(next.validators.count)", "role": "\(isValidator ? "validator" : wasValidator ? "voted out" : "full node")",
        ])
        // Peers that missed the decision (full nodes, laggards) adopt it from here.
        broadcast(.checkpoint(LedgerStore.StoredCheckpoint(signed: checkpoint.signed, bodies: checkpoint.bodies.filter { $0.key != .sealReports && $0.key != .cut })))

        let held = withheld.values.sorted { $0.0.batch.seq < $1.0.batch.seq }
        withheld = [:]
        for (batch, certificate) in held { applyCertified(batch, certificate) }
        let deferred = deferredVotes
        deferredVotes = []
        if isValidator { for key in deferred { enqueueVote(key, newLock: nil) } }
        redecidePending()
        let early = futureVotes
        futureVotes = []
        for vote in early { if let verified = try? vote.verify(for: next) { received(verified) } }
        onAdopted?(next, committeeAddresses())
    }

    /// Batches that waited out the seal: decided again in the new epoch.
    private func redecidePending() {
        guard isValidator else { return }
        for (key, entry) in pending.entries {
            let batch = entry.batch
            guard authority.state(of: batch.signer).nextSeq <= batch.batch.seq else { continue }
            switch authority.handle(batch) {
            case .vote(_, let lockIsNew):
                enqueueVote(key, newLock: lockIsNew ? authority.locks[batch.signer] : nil)
            case .rejected(let rejection):
                for waiter in waiters.removeValue(forKey: key) ?? [] {
                    waiter.reply(Self.rejectedAck(batch, rejection))
                }
            case .waiting, .belowNext:
                break
            }
        }
    }

    /// A vote of an epoch this node has no committee for yet: kept until the checkpoint.
    func receivedFuture(_ vote: Vote) {
        guard vote.epoch == committee.epoch + 1 else {
            // An epoch no checkpoint leads to yet: refused and counted; the connection stays.
            metrics.badVotes.increment()
            return
        }
        guard futureVotes.count < Self.maxFutureVotes else { return }
        futureVotes.append(vote)
    }

    // MARK: Following the chain

    /// Fetches the checkpoints from this node's epoch on from `link` and adopts
    /// each in turn (each verified against the committee its predecessor named).
    public func followChain(with link: PeerLink) async {
        guard !fetchingCheckpoints else { return }
        fetchingCheckpoints = true
        defer { fetchingCheckpoints = false }
        do {
            while true {
                let from = committee.epoch
                let reply = try await link.request(timeout: .seconds(10)) { .checkpointsRequest(request: $0, from: from) }
                guard case .checkpoints(_, let entries) = reply else {
                    throw PeerProtocolError("the peer answered a checkpoints request with something else")
                }
                for entry in entries { received(checkpoint: entry, from: nil) }
                if entries.count < PeerMessage.maxCheckpointsPage || committee.epoch == from { break }
            }
        } catch {
            logger.warning("fetching checkpoints from \(link) failed: \(error)")
        }
    }
}

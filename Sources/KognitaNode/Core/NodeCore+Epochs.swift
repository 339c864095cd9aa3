import KognitaCore
import KognitaLedger

/// The core's side of an epoch's end (docs/EPOCHS.md, section 4): it carries
/// out what the pure ``EpochSession`` decides. It seals (stops voting,
/// reports), brings the ledger to a cut (withheld certificates below it,
/// fetches from the reporters), builds and compares headers, and adopts the
/// decided checkpoint: the transitions, the committee switch, then the
/// certificates and batches held back meanwhile.
extension NodeCore {
    mutating func perform(_ actions: [EpochSession.Action]) {
        for action in actions {
            switch action {
            case .seal:
                seal()
            case .sendReport(let report):
                out.append(.broadcast(.sealReport(report)))
            case .send(let message, let reports):
                sendDurably(message, reports: reports)
            case .schedule(let timeout, let milliseconds):
                out.append(.schedule(.epochTimeout(timeout, epoch: committee.epoch), milliseconds: milliseconds))
            case .build(let cut, let timestamp, let round):
                bringToCut(cut, then: .build(timestamp: timestamp, round: round))
            case .check(let header, let cut):
                bringToCut(cut, then: .check(header))
            case .decided(let checkpoint, _):
                decided(checkpoint)
            case .refused(let why):
                counters.epochMessagesRefused += 1
                out.append(.log(.warning, "refused: \(why)"))
            }
        }
    }

    /// Sends an agreement message; this validator's own go to its
    /// write-ahead log first, so that after a crash it repeats them rather
    /// than contradict them (``CheckpointAgreement/restore(_:)``).
    private mutating func sendDurably(_ message: CheckpointAgreement.Message, reports: [SealReport]) {
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
        guard own, loggedAgreement.insert(message).inserted else { return out.append(.broadcast(wire)) }
        var changes = LedgerChanges()
        changes.agreementMessages = [(committee.epoch, message)]
        out.append(.persist(changes))
        out.append(.afterDurable([.broadcast(wire)]))
    }

    // MARK: Sealing

    /// Stops voting in the epoch and reports: the heads of the accounts
    /// applied in it, the locks held, and the candidate nodes connected here.
    private mutating func seal() {
        guard isValidator, !session.sealed else { return }
        for (batch, certificate) in authority.takeCertifiedAhead() { withheld[BatchKey(batch)] = (batch, certificate) }
        var heads = touched.map { account in
            let state = authority.state(of: account)
            return SealReport.Head(account: account, nextSeq: state.nextSeq, lastFinal: state.lastFinal)
        }
        if heads.count > SealReport.maxHeads {
            // Beyond one frame; docs/EPOCHS.md says how reports by range will lift this.
            out.append(.log(.error, "\(heads.count) accounts were active this epoch; the seal report names the \(SealReport.maxHeads) with the highest seqs"))
            heads = Array(heads.sorted { $0.nextSeq > $1.nextSeq }.prefix(SealReport.maxHeads))
        }
        let locks = authority.locks.prefix(SealReport.maxLocks).map { SealReport.LockEntry(account: $0.key, seq: $0.value.seq, id: $0.value.id) }
        // Candidates this validator reaches and that have caught up with the
        // chain (they adopted the checkpoint that began this epoch).
        let attested = peers.filter { authority.candidateAccounts[$0] != nil && peerEpochs[$0] == committee.epoch }
        let report = SealReport.sign(network: committee.network, epoch: committee.epoch, heads: heads, locks: locks,
                                     attested: Array(attested), samples: sampler.samples(),
                                     evidence: Array(pendingEvidence.values), previousRound: checkpoints.last?.round ?? 0,
                                     with: identity)
        out.append(.log(.info, "sealed epoch \(committee.epoch) (\(heads.count) heads, \(locks.count) locks)"))
        perform(session.handle(.sealed(report)))
    }

    // MARK: The cut

    /// Brings the ledger to `cut`, then builds (as leader) or checks a
    /// header. Withheld certificates below the cut apply at once; most of
    /// the rest are certificates still forming here from votes in flight,
    /// so the node waits ``cutGraceMillis`` for them before it fetches what
    /// is still missing from the validators that reported the highest heads.
    /// The build or check runs as soon as the last account reaches the cut.
    private mutating func bringToCut(_ cut: EpochCut, then purpose: CutPurpose) {
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
            out.append(.log(.warning, "a proposed cut of epoch \(epoch) is behind this node's ledger at \(past.count) accounts; refusing it"))
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
        out.append(.schedule(.cutGraceOver(cut, epoch: epoch), milliseconds: Self.cutGraceMillis))
    }

    /// Called for each applied batch while approaching a cut.
    mutating func approached(_ account: AccountID) {
        guard var current = approach, let need = current.missing[account], authority.state(of: account).nextSeq >= need else { return }
        current.missing[account] = nil
        approach = current
        if current.missing.isEmpty { completeApproach() }
    }

    /// The grace is over and the cut is still not reached: fetch what is
    /// missing from the validators that reported it.
    mutating func cutGraceOver(_ cut: EpochCut, epoch: UInt64) {
        guard let current = approach, current.cut == cut, epoch == committee.epoch else { return }
        var fetches: [CutFetch] = []
        for (account, need) in current.missing.sorted(by: { $0.key < $1.key }) {
            let reporter = cut.reports.first { report in report.heads.contains { $0.account == account && $0.nextSeq == need } }?.validator
            fetches.append(CutFetch(account: account, from: authority.state(of: account).nextSeq, upTo: need,
                                    peer: reporter.flatMap { peers.contains($0) ? $0 : nil }))
        }
        out.append(.log(.info, "fetching \(fetches.count) accounts' final batches to reach the cut of epoch \(epoch)"))
        out.append(.fetchForCut(fetches, cut: cut, epoch: epoch))
    }

    mutating func completeApproach() {
        guard let done = approach else { return }
        approach = nil
        for purpose in done.purposes { finish(done.cut, purpose, epoch: committee.epoch) }
    }

    private mutating func finish(_ cut: EpochCut, _ purpose: CutPurpose, epoch: UInt64) {
        guard epoch == committee.epoch, session.decision == nil else { return }
        let atCut = authority.distance(to: cut, touched: touched).isEmpty
        switch purpose {
        case .build(let timestamp, let round):
            guard atCut else {
                out.append(.log(.warning, "could not reach the cut of epoch \(epoch) to propose in round \(round)"))
                return perform(session.handle(.built(nil, round: round)))
            }
            let built = CheckpointBuilder.build(authority: authority, cut: cut, previous: session.previous, timestamp: timestamp,
                                                committees: { self.committee(of: $0) })
            builtBodies[built.header.digest] = built.bodies
            perform(session.handle(.built(built.header, round: round)))
        case .check(let header):
            guard atCut else { return perform(session.handle(.checked(header.digest, valid: false))) }
            let built = CheckpointBuilder.build(authority: authority, cut: cut, previous: session.previous, timestamp: header.timestamp,
                                                committees: { self.committee(of: $0) })
            let valid = built.header == header
            if valid { builtBodies[header.digest] = built.bodies } else {
                out.append(.log(.warning, "the proposed checkpoint of epoch \(epoch) (\(header.digest.hex.prefix(16))) is not the one this node builds from its cut (\(built.header.digest.hex.prefix(16)))"))
            }
            perform(session.handle(.checked(header.digest, valid: valid)))
        }
    }

    // MARK: Adopting

    /// The agreement decided: adopt with the bodies built here, or wait for a peer's.
    private mutating func decided(_ checkpoint: SignedCheckpoint) {
        let digest = checkpoint.header.digest
        guard let bodies = builtBodies[digest] else {
            out.append(.log(.info, "checkpoint \(checkpoint.header.epoch) decided; waiting for its bodies from a peer"))
            return
        }
        adopt(LedgerStore.StoredCheckpoint(signed: checkpoint, bodies: bodies.bytes))
    }

    /// A decided checkpoint from a peer (decoded, bodies matched against its header).
    mutating func received(checkpoint: LedgerStore.StoredCheckpoint, from peer: PublicKey?) {
        let epoch = checkpoint.signed.header.epoch
        if epoch > committee.epoch {
            // This node is behind the chain: fetch the checkpoints in between.
            if let peer { out.append(.followChain(from: peer)) }
            return
        }
        guard epoch == committee.epoch else { return }
        do throws(LedgerError) { try checkpoint.signed.verify(for: committee) } catch {
            counters.epochMessagesRefused += 1
            out.append(.log(.warning, "refused a checkpoint of epoch \(epoch)\(peer.map { " from \($0)" } ?? ""): \(error)"))
            return
        }
        guard checkpoint.signed.header.previous == session.previous else {
            counters.epochMessagesRefused += 1
            out.append(.log(.error, "checkpoint \(epoch) does not chain to this node's previous header; is this node on a fork of genesis?"))
            return
        }
        adopt(checkpoint)
    }

    /// Enters the next epoch: the checkpoint's transitions and carried locks,
    /// the committee switch, all durable in one transaction; then the
    /// withheld certificates, the batches held back, the early votes.
    mutating func adopt(_ checkpoint: LedgerStore.StoredCheckpoint) {
        let header = checkpoint.signed.header
        guard header.epoch == committee.epoch else { return }
        let next: Committee, carried: [AccountID: CarriedLock], transitions: EpochTransitions, heads: [AccountID: UInt64]
        var rewards: EpochRewards?, ratings: RatingsBody?, slashes: SlashesBody?
        do throws(LedgerError) {
            next = try header.committee()
            guard let cutBody = checkpoint.bodies[.cut] else { throw LedgerError("the checkpoint came without its cut") }
            heads = try CheckpointBodies.cutHeads(decoding: cutBody)
            guard let carriedBody = checkpoint.bodies[.carriedLocks], let transitionsBody = checkpoint.bodies[.transitions] else {
                throw LedgerError("the checkpoint came without its carried locks or transitions")
            }
            carried = try CheckpointBodies.carriedLocks(decoding: carriedBody)
            transitions = try EpochTransitions(decoding: transitionsBody)
            guard transitions.epoch == next.epoch else { throw LedgerError("its transitions are for epoch \(transitions.epoch)") }
            // Checkpoints from before self-governance have neither.
            if let body = checkpoint.bodies[.rewards] { rewards = try EpochRewards(decoding: body) }
            if let body = checkpoint.bodies[.ratings] { ratings = try RatingsBody(decoding: body) }
            if let body = checkpoint.bodies[.slashes] { slashes = try SlashesBody(decoding: body) }
            guard rewards.map({ $0.epoch == header.epoch }) ?? true, ratings.map({ $0.epoch == header.epoch }) ?? true else {
                throw LedgerError("its rewards or ratings are for another epoch")
            }
        } catch {
            out.append(.log(.error, "cannot adopt checkpoint \(header.epoch): \(error)"))
            return
        }
        let wasValidator = isValidator
        authority.enterEpoch(next, carried: carried, transitions: transitions, rewards: rewards, ratings: ratings?.book,
                             slashes: slashes?.slashes ?? [])
        var changes = LedgerChanges()
        for entry in transitions.entries {
            changes.accounts[entry.account] = authority.state(of: entry.account)
            changes.stakes[entry.account] = .some(authority.stakes[entry.account])
        }
        for payout in rewards?.payouts ?? [] { changes.accounts[payout.account] = authority.state(of: payout.account) }
        for slash in slashes?.slashes ?? [] {
            changes.stakes[slash.account] = .some(authority.stakes[slash.account])
            out.append(.log(.warning, "validator \(slash.node) slashed for equivocation: \(slash.amount) of its stake burned"))
        }
        // Proofs acted on (or out of their window) are dropped.
        pendingEvidence = pendingEvidence.filter { !authority.ratings.isSlashed($0.key) && $0.value.latestEpoch + authority.rules.evidenceEpochs >= next.epoch }
        changes.feePool = authority.feePool
        changes.feePoolDebt = authority.feePoolDebt
        changes.unbondingDebt = authority.unbondingDebt
        changes.burned = authority.burned
        changes.carriedLocks = authority.carriedLocks
        var stored = checkpoint
        stored.adoptedAtMillis = now
        changes.checkpoints = [stored]
        out.append(.persist(changes))

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
        sampler = InclusionSampler(network: next.network, epoch: next.epoch, key: identity)
        counters.checkpointsAdopted += 1
        let role = isValidator ? "validator" : wasValidator ? "voted out" : "full node"
        out.append(.log(.info, "checkpoint \(header.epoch) adopted (digest \(header.digest.hex.prefix(16)), round \(checkpoint.signed.round)); epoch \(next.epoch) begins with \(next.validators.count) validators; this node: \(role)"))
        out.append(.adopted(next, addresses: committeeAddresses()))
        // Peers that missed the decision (full nodes, laggards) adopt it from here.
        out.append(.broadcast(.checkpoint(LedgerStore.StoredCheckpoint(signed: checkpoint.signed,
                                                                         bodies: checkpoint.bodies.filter { $0.key != .sealReports }))))
        if ready { out.append(.broadcast(.progress(epoch: next.epoch))) }

        // A node that adopts a checkpoint it did not build (a peer's decision)
        // may be short of its cut: it fetches what it misses, which then
        // applies at once. Without this its ledger would differ from the
        // header's state root and every later header it built or checked.
        checkpointedHeads = heads
        for (account, need) in heads.sorted(by: { $0.key < $1.key }) where authority.state(of: account).nextSeq < need {
            guard !peers.isEmpty, fetching.insert(account).inserted else { continue }
            out.append(.fetch(account: account, from: authority.state(of: account).nextSeq, upTo: need, peer: nil))
        }

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
    }

    /// Batches that waited out the seal: decided again in the new epoch.
    private mutating func redecidePending() {
        guard isValidator else { return }
        for (key, entry) in pending.entries {
            let batch = entry.batch
            guard authority.state(of: batch.signer).nextSeq <= batch.batch.seq else { continue }
            switch authority.handle(batch) {
            case .vote(_, let lockIsNew):
                enqueueVote(key, newLock: lockIsNew ? authority.locks[batch.signer] : nil)
            case .rejected(let rejection):
                for waiter in waiters.removeValue(forKey: key) ?? [] { reject(batch, rejection, waiter.id) }
            case .waiting, .belowNext:
                break
            }
        }
    }

    /// A vote of an epoch this node has no committee for yet: kept until the checkpoint.
    mutating func receivedFuture(_ vote: Vote) {
        guard vote.epoch == committee.epoch + 1 else {
            // An epoch no checkpoint leads to yet: refused and counted; the connection stays.
            counters.badVotes += 1
            return
        }
        guard futureVotes.count < Self.maxFutureVotes else { return }
        futureVotes.append(vote)
    }
}

extension NodeCore {
    // MARK: Equivocation

    /// The committee of `epoch`, for any epoch up to the current one.
    func committee(of epoch: UInt64) -> Committee? {
        if epoch == committee.epoch { return committee }
        if epoch == 0 { return genesisCommittee }
        guard epoch <= UInt64(checkpoints.count) else { return nil }
        return try? checkpoints[Int(epoch - 1)].header.committee()
    }

    /// Checks a proof of equivocation against the header chain: it must
    /// verify, be within the evidence window, and accuse a validator not
    /// slashed already. Throws with the reason otherwise.
    public func check(_ proof: EquivocationProof) throws(LedgerError) {
        guard proof.network == committee.network else { throw LedgerError("equivocation proof for network \(proof.network), not \(committee.network)") }
        guard proof.latestEpoch + authority.rules.evidenceEpochs >= committee.epoch else {
            throw LedgerError("equivocation proof: its latest vote is of epoch \(proof.latestEpoch); evidence is accepted for \(authority.rules.evidenceEpochs) epochs and this is epoch \(committee.epoch)")
        }
        guard !authority.ratings.isSlashed(proof.offender) else { throw LedgerError("equivocation proof: \(proof.offender) is slashed already") }
        try proof.verify { self.committee(of: $0) }
    }

    /// A proof ``check(_:)`` passed (the shell checks it before the event): kept for the next seal report, and passed on once.
    mutating func received(evidence proof: EquivocationProof) {
        guard pendingEvidence[proof.offender] == nil, !authority.ratings.isSlashed(proof.offender) else { return }
        pendingEvidence[proof.offender] = proof
        out.append(.log(.warning, "proof of equivocation by validator \(proof.offender) (epochs \(proof.votes[0].epoch) and \(proof.votes[1].epoch)); the next checkpoint slashes it"))
        out.append(.broadcast(.evidence(proof)))
    }
}

import KognitaCore

/// One validator's side of one epoch's end (docs/EPOCHS.md, section 4): when
/// its clock seals the epoch, the seal reports it holds, when as leader it
/// may build a header, which proposals it is still checking, and the
/// ``CheckpointAgreement`` that decides. Pure: events in, actions out. The
/// node builds the reports, fetches up to a cut, builds and compares headers,
/// signs nothing else and keeps the time.
public struct EpochSession: Sendable {
    public let committee: Committee
    public let rules: EpochRules
    /// The previous header's digest (the genesis digest before epoch 0's checkpoint).
    public let previous: Bytes32
    /// The previous checkpoint's time (genesis `start_ms` for epoch 0).
    public let previousTimestamp: UInt64
    /// The locks the previous checkpoint carried (its body 2): the cut
    /// starts from these, not from what is left of them on this node, so
    /// every validator computes the same cut.
    public let previouslyCarried: [AccountID: CarriedLock]
    public private(set) var agreement: CheckpointAgreement
    let key: SigningKey?

    /// Whether this validator has sealed the epoch (reported and stopped voting in it).
    public private(set) var sealed = false
    public private(set) var reports: [PublicKey: SealReport] = [:]
    var reportWeight: UInt64 = 0
    /// A round this node leads and must build a header for, and since when it waits for reports.
    var buildRound: UInt32?
    var buildWaitingSince: UInt64?
    var building = false
    /// Proposals waiting for the node's check of their header, by digest.
    var awaiting: [Bytes32: [CheckpointProposal]] = [:]
    var checking: Set<Bytes32> = []
    var verdicts: [Bytes32: Bool] = [:]
    /// The cut behind each header seen, by digest (a proposal travels with its reports).
    public private(set) var cuts: [Bytes32: EpochCut] = [:]
    var lastResend: UInt64 = 0

    /// How long a leader waits for the reports of the whole committee
    /// before it builds from the quorum it has.
    public var reportGraceMillis: UInt64 = 400
    /// How often the node resends its report and its agreement messages until it decides.
    public var resendMillis: UInt64 = 1_000

    public enum Event: Sendable {
        /// The node's clock (ms since 1970).
        case tick(nowMillis: UInt64)
        /// This node's own report, signed by the node after it stopped voting.
        case sealed(SealReport)
        /// A report from a peer (its signature is checked here).
        case report(SealReport)
        /// A proposal and the reports its cut rests on.
        case proposal(CheckpointProposal, reports: [SealReport], nowMillis: UInt64)
        case vote(CheckpointVote)
        case timeout(CheckpointAgreement.Timeout)
        /// The header this node built as leader of `round` (``Action/build``), or nil when it could not.
        case built(CheckpointHeader?, round: UInt32)
        /// The node's verdict on a header (``Action/check``).
        case checked(Bytes32, valid: Bool)
    }

    public enum Action: Sendable {
        /// The epoch is over by this node's clock (or a proposal said so):
        /// stop voting in it, then answer with ``Event/sealed(_:)``.
        case seal
        /// Send a report to every peer.
        case sendReport(SealReport)
        /// Send an agreement message; a proposal goes with the reports of its cut.
        case send(CheckpointAgreement.Message, reports: [SealReport])
        case schedule(CheckpointAgreement.Timeout, milliseconds: UInt64)
        /// As leader of `round`: bring the ledger to `cut` and build the
        /// header at `timestamp`; answer with ``Event/built(_:round:)``.
        case build(cut: EpochCut, timestamp: UInt64, round: UInt32)
        /// Bring the ledger to `cut`, build the header with its timestamp and
        /// compare; answer with ``Event/checked(_:valid:)``.
        case check(CheckpointHeader, cut: EpochCut)
        /// The checkpoint is decided, with the cut behind it when this node saw it.
        case decided(SignedCheckpoint, cut: EpochCut?)
        /// A peer's message was refused: signed by no member, or not signed
        /// by who it claims, or for another network. (Messages of another
        /// epoch are not refusals: they are late or early, and ignored.)
        case refused(String)
    }

    public init(committee: Committee, rules: EpochRules, previous: Bytes32, previousTimestamp: UInt64,
                previouslyCarried: [AccountID: CarriedLock], key: SigningKey?) {
        self.committee = committee
        self.rules = rules
        self.previous = previous
        self.previousTimestamp = previousTimestamp
        self.previouslyCarried = previouslyCarried
        self.key = key.flatMap { committee.contains($0.publicKey) ? $0 : nil }
        agreement = CheckpointAgreement(committee: committee, key: self.key)
    }

    /// Restores this validator's own proposals and votes of this epoch from
    /// its write-ahead log after a restart (``CheckpointAgreement/restore(_:)``).
    public mutating func restore(_ own: [CheckpointAgreement.Message]) { agreement.restore(own) }

    public var epoch: UInt64 { committee.epoch }
    /// When the epoch ends by the clocks: the previous checkpoint's time plus the epoch length.
    public var endMillis: UInt64 { previousTimestamp &+ rules.epochMillis }
    public var decision: SignedCheckpoint? { agreement.decision }
    public var isMember: Bool { key != nil }

    public mutating func handle(_ event: Event) -> [Action] {
        guard decision == nil else { return [] }
        var actions: [Action] = []
        switch event {
        case .tick(let now):
            if isMember, !sealed, now >= endMillis { return [.seal] }
            if sealed, now >= lastResend &+ resendMillis {
                lastResend = now
                if let key, let own = reports[key.publicKey] { actions.append(.sendReport(own)) }
                relay(agreement.handle(.resend), &actions)
            }
            tryBuild(now: now, &actions)

        case .sealed(let report):
            guard isMember, !sealed, report.validator == key?.publicKey, report.epoch == epoch else { return [] }
            sealed = true
            if reports[report.validator] == nil { add(report) }
            actions.append(.sendReport(report))
            relay(agreement.handle(.start), &actions)
            // Proposals that came before the seal are checked now.
            for (digest, waiting) in awaiting where verdicts[digest] == nil {
                if let cut = cuts[digest], let header = waiting.first?.header, checking.insert(digest).inserted {
                    actions.append(.check(header, cut: cut))
                }
            }

        case .report(let report):
            guard report.epoch == epoch, reports[report.validator] == nil else { return [] }
            guard report.network == committee.network, committee.contains(report.validator), report.isSigned else {
                return [.refused("a seal report claiming \(report.validator) of \(report.network) is not signed by a member of the committee of epoch \(epoch)")]
            }
            add(report)

        case .proposal(let proposal, let proposalReports, let now):
            let header = proposal.header
            guard header.epoch == epoch else { return [] }
            guard header.network == committee.network, proposal.proposer == agreement.leader(of: proposal.round), proposal.isSigned else {
                return [.refused("a proposal for round \(proposal.round) of epoch \(epoch) is not signed by that round's leader")]
            }
            let digest = header.digest
            // Its reports are reports like any other: a later leader builds on them too.
            for report in proposalReports where report.network == committee.network && report.epoch == epoch
                && committee.contains(report.validator) && reports[report.validator] == nil && report.isSigned {
                add(report)
            }
            // Only a header found valid is taken as such again. A refusal may
            // rest on what came with one message (its reports), on the clock,
            // or on a cut this node could not reach in time: a re-proposal of
            // the same header in a later round is judged afresh.
            if verdicts[digest] == true {
                relay(agreement.handle(.proposal(proposal, valid: true)), &actions)
                break
            }
            guard let cut = acceptableCut(header, proposalReports, now: now) else {
                relay(agreement.handle(.proposal(proposal, valid: false)), &actions)
                break
            }
            cuts[digest] = cut
            awaiting[digest, default: []].append(proposal)
            if isMember && !sealed {
                // Another validator's clock ended the epoch within the bound: so does ours.
                actions.append(.seal)
            } else if checking.insert(digest).inserted {
                verdicts[digest] = nil
                actions.append(.check(header, cut: cut))
            }

        case .vote(let vote):
            guard vote.epoch == epoch else { return [] }
            guard vote.network == committee.network, committee.contains(vote.validator) else {
                return [.refused("a checkpoint vote of epoch \(epoch) by \(vote.validator), who is not on its committee")]
            }
            relay(agreement.handle(.vote(vote)), &actions)

        case .timeout(let timeout):
            relay(agreement.handle(.timeout(timeout)), &actions)

        case .built(let header, let round):
            building = false
            if let header, let cut = pendingCut { cuts[header.digest] = cut }
            pendingCut = nil
            guard let header, round == buildRound else { break }
            buildRound = nil
            verdicts[header.digest] = true
            relay(agreement.handle(.proposalBuilt(header, round: round)), &actions)

        case .checked(let digest, let valid):
            checking.remove(digest)
            verdicts[digest] = valid
            for proposal in awaiting.removeValue(forKey: digest) ?? [] {
                relay(agreement.handle(.proposal(proposal, valid: valid)), &actions)
            }
        }
        return actions
    }

    /// The cut of a proposed header when its frame holds (epoch, chain,
    /// time bounds of docs/EPOCHS.md section 2, reports that make a cut);
    /// nil when the header can be refused without building it.
    func acceptableCut(_ header: CheckpointHeader, _ proposalReports: [SealReport], now: UInt64) -> EpochCut? {
        guard header.previous == previous, header.timestamp >= endMillis,
              header.timestamp <= now &+ rules.maxClockSkewMillis else { return nil }
        return try? EpochCut(reports: proposalReports, committee: committee, previouslyCarried: previouslyCarried)
    }

    private mutating func add(_ report: SealReport) {
        reports[report.validator] = report
        reportWeight += committee.weight(of: report.validator) ?? 0
    }

    /// The agreement's actions, with proposals given their reports; a
    /// build request waits here until reports of a quorum are in.
    private mutating func relay(_ agreementActions: [CheckpointAgreement.Action], _ actions: inout [Action]) {
        for action in agreementActions {
            switch action {
            case .broadcast(let message):
                if case .proposal(let proposal) = message {
                    actions.append(.send(message, reports: cuts[proposal.header.digest]?.reports ?? []))
                } else {
                    actions.append(.send(message, reports: []))
                }
            case .schedule(let timeout, let milliseconds):
                actions.append(.schedule(timeout, milliseconds: milliseconds))
            case .buildProposal(let round):
                if buildRound != round { buildWaitingSince = nil }
                buildRound = round
            case .decided(let checkpoint):
                actions.append(.decided(checkpoint, cut: cuts[checkpoint.header.digest]))
            }
        }
    }

    /// Builds when leading a round: once reports of the whole committee are
    /// in, or of a quorum and the grace has passed. The cut uses every report
    /// held, so cuts only grow from round to round and a validator that
    /// fetched up to one leader's cut can still accept the next.
    private mutating func tryBuild(now: UInt64, _ actions: inout [Action]) {
        guard let round = buildRound, !building, sealed, round == agreement.round else { return }
        let since = buildWaitingSince ?? now
        buildWaitingSince = since
        guard reportWeight >= committee.quorumWeight,
              reports.count == committee.validators.count || now >= since &+ reportGraceMillis else { return }
        guard let cut = try? EpochCut(reports: Array(reports.values), committee: committee, previouslyCarried: previouslyCarried) else { return }
        building = true
        let timestamp = max(now, endMillis)
        // The header is not known until built; its cut is filed under its digest then.
        pendingCut = cut
        actions.append(.build(cut: cut, timestamp: timestamp, round: round))
    }

    /// The cut of the build in flight.
    var pendingCut: EpochCut?
}

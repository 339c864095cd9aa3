import KognitaCore

/// One validator's side of the agreement on one epoch's checkpoint: the
/// Tendermint algorithm (Buchman, Kwon, Milosevic, "The latest gossip on BFT
/// consensus", 2018) over header digests, with a rotating leader, locks,
/// timeouts and round changes. Pure: events in, actions out; the node signs
/// nothing and sends nothing itself, and time is only what ``Event/timeout``
/// says. docs/EPOCHS.md gives the argument for why it is safe with up to f
/// of 3f+1 faulty validators and live once more than 2/3 of the weight is
/// connected.
///
/// What is decided is a ``SignedCheckpoint``: the header and the precommits
/// of more than 2/3 of the weight from one round.
public struct CheckpointAgreement: Sendable {
    public let committee: Committee
    public var epoch: UInt64 { committee.epoch }
    /// Nil on a node that follows without a seat: it still learns the decision.
    let key: SigningKey?

    public private(set) var round: UInt32 = 0
    public private(set) var step: Step = .propose
    public private(set) var started = false
    public private(set) var decision: SignedCheckpoint?

    var lockedDigest: Bytes32?
    var lockedRound: UInt32?
    var validDigest: Bytes32?
    var validRound: UInt32?
    /// The leader's proposal of each round (the first signed one), and what the node made of it.
    var proposals: [UInt32: CheckpointProposal] = [:]
    var validity: [Bytes32: Bool] = [:]
    var headers: [Bytes32: CheckpointHeader] = [:]
    var prevotes: [UInt32: Tally] = [:]
    var precommits: [UInt32: Tally] = [:]
    /// "For the first time" guards of the algorithm.
    var prevoteTimeoutSet: Set<UInt32> = []
    var precommitTimeoutSet: Set<UInt32> = []
    var lockedOnPolka: Set<UInt32> = []
    /// This node's own messages of the current and the previous round, sent
    /// again on ``Event/resend``. The previous round's precommits matter: a
    /// node that moved on is the one whose precommit the laggards still need
    /// to see their round end, and a single node ahead is too little weight
    /// for them to skip to its round.
    var ownMessages: [UInt32: [Message]] = [:]
    /// What this validator signed before a restart (from its write-ahead
    /// log): in a round and step it already voted in, it sends that vote
    /// again and never a different one; as leader it proposes what it
    /// proposed before.
    var signedVotes: [VoteSlot: CheckpointVote] = [:]
    var signedProposals: [UInt32: CheckpointProposal] = [:]

    struct VoteSlot: Hashable {
        let round: UInt32
        let kind: CheckpointVote.Kind
    }

    public enum Step: Sendable, Hashable, Comparable { case propose, prevote, precommit }

    /// A round's timers; the node fires them when their time has come.
    public struct Timeout: Sendable, Hashable {
        public let round: UInt32
        public let step: Step
    }

    public enum Message: Sendable, Hashable {
        case proposal(CheckpointProposal)
        case vote(CheckpointVote)
    }

    public enum Event: Sendable {
        /// The epoch has ended by this node's clock (and its seal report is out): round 0 begins.
        case start
        /// A proposal, with the node's verdict on it: whether its header is
        /// the one this node would accept (bodies, cut, state root, next committee).
        case proposal(CheckpointProposal, valid: Bool)
        /// A prevote or precommit from a peer (or this node).
        case vote(CheckpointVote)
        /// A timer the node set has run out.
        case timeout(Timeout)
        /// The header this node proposes, when it leads a round and was asked (``Action/buildProposal(round:)``).
        case proposalBuilt(CheckpointHeader, round: UInt32)
        /// Send this node's messages of the current round again (lossy links).
        case resend
    }

    public enum Action: Sendable, Hashable {
        case broadcast(Message)
        /// Set a timer that fires `Event.timeout(timeout)` after `milliseconds`.
        case schedule(Timeout, milliseconds: UInt64)
        /// This node leads `round` and has no value yet: build a header and
        /// answer with ``Event/proposalBuilt(_:round:)`` (as soon as it can).
        case buildProposal(round: UInt32)
        /// The checkpoint is decided.
        case decided(SignedCheckpoint)
    }

    /// The votes of one kind in one round. An equivocating validator's
    /// signed votes count for each digest it signed (up to
    /// ``Tally/votesPerValidator``), not just the first one a node happened
    /// to receive: otherwise its first vote could hide, at one node, a polka
    /// that other nodes saw, and that node could never accept the value the
    /// locked nodes re-propose. Counting them is safe: a Byzantine validator
    /// can already tell different nodes different things.
    struct Tally: Sendable {
        static let votesPerValidator = 3
        var votes: [Bytes32?: [PublicKey: CheckpointVote]] = [:]
        var weightFor: [Bytes32?: UInt64] = [:]
        var digestsBy: [PublicKey: Int] = [:]
        /// Weight of the distinct validators that voted at all.
        var weight: UInt64 = 0
        var voters: Dictionary<PublicKey, Int>.Keys { digestsBy.keys }

        /// Counts a (verified) vote; false when it was already counted or
        /// the validator has used up its share of distinct votes.
        mutating func add(_ vote: CheckpointVote, weight validatorWeight: UInt64) -> Bool {
            guard votes[vote.digest]?[vote.validator] == nil else { return false }
            let seen = digestsBy[vote.validator] ?? 0
            guard seen < Self.votesPerValidator else { return false }
            if seen == 0 { weight += validatorWeight }
            digestsBy[vote.validator] = seen + 1
            votes[vote.digest, default: [:]][vote.validator] = vote
            weightFor[vote.digest, default: 0] += validatorWeight
            return true
        }

        func contains(_ vote: CheckpointVote) -> Bool { votes[vote.digest]?[vote.validator] != nil }
    }

    /// Timer lengths grow with the round, so that once the network is
    /// synchronous again rounds last long enough to finish.
    public var timeoutBaseMillis: UInt64 = 1_000
    public var timeoutStepMillis: UInt64 = 500

    public init(committee: Committee, key: SigningKey?) {
        self.committee = committee
        self.key = key.flatMap { committee.contains($0.publicKey) ? $0 : nil }
    }

    /// The leader of `round`: the committee in id order, starting at an offset that moves with the epoch.
    public func leader(of round: UInt32) -> PublicKey {
        let validators = committee.validators
        return validators[Int((epoch &+ UInt64(round)) % UInt64(validators.count))].id
    }

    public var isMember: Bool { key != nil }

    /// The header a digest names, once a proposal for it was seen.
    public func header(for digest: Bytes32) -> CheckpointHeader? { headers[digest] }

    /// One line on where this validator stands, for logs and failed simulation runs.
    public var summary: String {
        func tallies(_ t: [UInt32: Tally]) -> String {
            t.keys.sorted().map { r in "r\(r):" + t[r]!.weightFor.map { "\($0.key.map { $0.hex.prefix(6) } ?? "nil")=\($0.value)" }.sorted().joined(separator: ",") }.joined(separator: " ")
        }
        return "round \(round) \(step) locked \(lockedRound.map(String.init) ?? "-") valid \(validRound.map(String.init) ?? "-") proposals \(proposals.keys.sorted()) prevotes [\(tallies(prevotes))] precommits [\(tallies(precommits))]"
    }

    // MARK: Events

    public mutating func handle(_ event: Event) -> [Action] {
        guard decision == nil else { return [] }
        var actions: [Action] = []
        switch event {
        case .start:
            guard !started else { return [] }
            started = true
            startRound(0, &actions)
        case .proposal(let proposal, let valid):
            guard proposal.header.epoch == epoch, proposal.header.network == committee.network,
                  proposal.proposer == leader(of: proposal.round), proposals[proposal.round] == nil, proposal.isSigned else { return [] }
            proposals[proposal.round] = proposal
            let digest = proposal.header.digest
            headers[digest] = proposal.header
            if validity[digest] == nil || valid { validity[digest] = valid }
            if started { roundSkip(for: proposal.round, &actions) }
        case .vote(let vote):
            guard vote.network == committee.network, vote.epoch == epoch, committee.contains(vote.validator) else { return [] }
            var tallies = vote.kind == .prevote ? prevotes : precommits
            var tally = tallies[vote.round] ?? Tally()
            guard !tally.contains(vote), vote.isSigned,
                  tally.add(vote, weight: committee.weight(of: vote.validator) ?? 0) else { return [] }
            tallies[vote.round] = tally
            if vote.kind == .prevote { prevotes = tallies } else { precommits = tallies }
            if started { roundSkip(for: vote.round, &actions) }
        case .timeout(let timeout):
            guard started, timeout.round == round else { return [] }
            switch timeout.step {
            case .propose where step == .propose:
                vote(.prevote, nil, &actions)
                step = .prevote
            case .prevote where step == .prevote:
                vote(.precommit, nil, &actions)
                step = .precommit
            case .precommit:
                startRound(round + 1, &actions)
            default:
                break
            }
        case .proposalBuilt(let header, let builtRound):
            guard started, builtRound == round, step == .propose, let key, leader(of: round) == key.publicKey,
                  proposals[round] == nil, header.epoch == epoch else { return [] }
            propose(header, validRound: nil, &actions)
        case .resend:
            actions = ownMessages.keys.sorted().flatMap { ownMessages[$0]! }.map { .broadcast($0) }
            if started, step == .propose, let key, leader(of: round) == key.publicKey, proposals[round] == nil, validDigest == nil {
                actions.append(.buildProposal(round: round))
            }
            return actions
        }
        if started { progress(&actions) }
        return actions
    }

    // MARK: The algorithm

    private mutating func startRound(_ next: UInt32, _ actions: inout [Action]) {
        round = next
        step = .propose
        ownMessages = ownMessages.filter { $0.key + 1 >= next }
        if let key, leader(of: next) == key.publicKey {
            if let before = signedProposals[next] {
                propose(before.header, validRound: before.validRound, &actions)
            } else if let digest = validDigest, let header = headers[digest] {
                propose(header, validRound: validRound, &actions)
            } else {
                actions.append(.buildProposal(round: next))
            }
        }
        actions.append(.schedule(Timeout(round: next, step: .propose), milliseconds: timeoutMillis(next)))
    }

    /// Restores what this validator signed in this epoch before it
    /// restarted, so that it cannot contradict itself: the same votes and
    /// proposals again, and the lock its highest precommit for a value
    /// implies. Call before ``Event/start``.
    public mutating func restore(_ own: [Message]) {
        guard let key else { return }
        for message in own {
            switch message {
            case .proposal(let proposal) where proposal.proposer == key.publicKey && proposal.header.epoch == epoch && proposal.isSigned:
                signedProposals[proposal.round] = proposal
                headers[proposal.header.digest] = proposal.header
                if validity[proposal.header.digest] == nil { validity[proposal.header.digest] = true }
            case .vote(let vote) where vote.validator == key.publicKey && vote.epoch == epoch && vote.isSigned:
                signedVotes[VoteSlot(round: vote.round, kind: vote.kind)] = vote
                var tallies = vote.kind == .prevote ? prevotes : precommits
                var tally = tallies[vote.round] ?? Tally()
                if tally.add(vote, weight: committee.weight(of: key.publicKey) ?? 0) { tallies[vote.round] = tally }
                if vote.kind == .prevote { prevotes = tallies } else { precommits = tallies }
                if vote.kind == .precommit, let digest = vote.digest, lockedRound.map({ $0 < vote.round }) ?? true {
                    lockedDigest = digest
                    lockedRound = vote.round
                }
            default:
                continue
            }
        }
    }

    private mutating func propose(_ header: CheckpointHeader, validRound: UInt32?, _ actions: inout [Action]) {
        guard let key else { return }
        if let before = signedProposals[round] {
            // Proposed before a restart: that proposal again, never another.
            proposals[round] = before
            ownMessages[round, default: []].append(.proposal(before))
            actions.append(.broadcast(.proposal(before)))
            return
        }
        let proposal = CheckpointProposal.sign(header: header, round: round, validRound: validRound, with: key)
        proposals[round] = proposal
        headers[header.digest] = header
        // A node proposes only what it would accept itself.
        if validity[header.digest] == nil { validity[header.digest] = true }
        ownMessages[round, default: []].append(.proposal(proposal))
        actions.append(.broadcast(.proposal(proposal)))
        // A re-proposal carries its proof of lock: the polka's signed
        // prevotes. Without them, a validator that missed one of those
        // prevotes long ago (they are not resent after their round) could
        // never accept the value the locked validators insist on, and the
        // two groups would vote nil at each other forever.
        if let validRound {
            for vote in prevotes[validRound]?.votes[header.digest]?.values.sorted(by: { $0.validator < $1.validator }) ?? [] {
                ownMessages[round, default: []].append(.vote(vote))
                actions.append(.broadcast(.vote(vote)))
            }
        }
    }

    private mutating func vote(_ kind: CheckpointVote.Kind, _ digest: Bytes32?, _ actions: inout [Action]) {
        guard let key else { return }
        // Voted in this round and step before a restart: the same vote again.
        let vote = signedVotes[VoteSlot(round: round, kind: kind)]
            ?? CheckpointVote.sign(kind, network: committee.network, epoch: epoch, round: round, digest: digest, with: key)
        ownMessages[round, default: []].append(.vote(vote))
        actions.append(.broadcast(.vote(vote)))
        // Our own vote counts like anyone's.
        var tallies = kind == .prevote ? prevotes : precommits
        var tally = tallies[round] ?? Tally()
        if tally.add(vote, weight: committee.weight(of: key.publicKey) ?? 0) {
            tallies[round] = tally
            if kind == .prevote { prevotes = tallies } else { precommits = tallies }
        }
    }

    /// More than a third of the weight is already in a later round: join it.
    private mutating func roundSkip(for messageRound: UInt32, _ actions: inout [Action]) {
        guard messageRound > round else { return }
        var voters: Set<PublicKey> = []
        for (r, tally) in prevotes where r == messageRound { voters.formUnion(tally.voters) }
        for (r, tally) in precommits where r == messageRound { voters.formUnion(tally.voters) }
        if let proposal = proposals[messageRound] { voters.insert(proposal.proposer) }
        let weight = voters.reduce(UInt64(0)) { $0 + (committee.weight(of: $1) ?? 0) }
        if weight > committee.totalWeight - committee.quorumWeight { startRound(messageRound, &actions) }
    }

    /// Applies every rule whose condition now holds, until none does.
    private mutating func progress(_ actions: inout [Action]) {
        var changed = true
        while changed && decision == nil {
            changed = false
            let quorum = committee.quorumWeight
            let r = round

            // Decide: a proposal of any round with a quorum of precommits for it.
            for (pr, tally) in precommits {
                for (digest, weight) in tally.weightFor where weight >= quorum {
                    guard let digest, let header = headers[digest], validity[digest] == true else { continue }
                    let signatures = (tally.votes[digest] ?? [:]).values.sorted { $0.validator < $1.validator }
                        .map { SignedCheckpoint.CommitSignature(validator: $0.validator, signature: $0.signature) }
                    let checkpoint = SignedCheckpoint(header: header, round: pr, signatures: signatures)
                    decision = checkpoint
                    ownMessages = [:]
                    actions.append(.decided(checkpoint))
                    return
                }
            }

            // Propose step: prevote on the round's proposal.
            if step == .propose, let proposal = proposals[r] {
                let digest = proposal.header.digest
                if let vr = proposal.validRound {
                    if vr < r, (prevotes[vr]?.weightFor[digest] ?? 0) >= quorum {
                        let acceptable = validity[digest] == true && (lockedRound.map { $0 <= vr } ?? true || lockedDigest == digest)
                        vote(.prevote, acceptable ? digest : nil, &actions)
                        step = .prevote
                        changed = true
                    }
                } else {
                    let acceptable = validity[digest] == true && (lockedRound == nil || lockedDigest == digest)
                    vote(.prevote, acceptable ? digest : nil, &actions)
                    step = .prevote
                    changed = true
                }
            }

            if let tally = prevotes[r] {
                // Any quorum of prevotes: wait a little for the rest.
                if step == .prevote, tally.weight >= quorum, prevoteTimeoutSet.insert(r).inserted {
                    actions.append(.schedule(Timeout(round: r, step: .prevote), milliseconds: timeoutMillis(r)))
                }
                // A polka for the round's proposal: lock on it and precommit.
                if step >= .prevote, let proposal = proposals[r] {
                    let digest = proposal.header.digest
                    if validity[digest] == true, (tally.weightFor[digest] ?? 0) >= quorum, lockedOnPolka.insert(r).inserted {
                        if step == .prevote {
                            lockedDigest = digest
                            lockedRound = r
                            vote(.precommit, digest, &actions)
                            step = .precommit
                        }
                        validDigest = digest
                        validRound = r
                        changed = true
                    }
                }
                // A quorum of nil prevotes: precommit nil.
                if step == .prevote, (tally.weightFor[nil] ?? 0) >= quorum {
                    vote(.precommit, nil, &actions)
                    step = .precommit
                    changed = true
                }
            }

            // Any quorum of precommits in this round: the round ends after a timeout.
            if let tally = precommits[r], tally.weight >= quorum, precommitTimeoutSet.insert(r).inserted {
                actions.append(.schedule(Timeout(round: r, step: .precommit), milliseconds: timeoutMillis(r)))
            }
        }
    }

    private func timeoutMillis(_ round: UInt32) -> UInt64 {
        timeoutBaseMillis + timeoutStepMillis * UInt64(min(round, 20))
    }
}

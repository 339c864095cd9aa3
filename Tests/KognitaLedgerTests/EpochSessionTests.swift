import Testing
import KognitaCore
import KognitaLedger

/// ``EpochSession``, one validator's side of an epoch's end (docs/EPOCHS.md,
/// sections 2 and 4), driven by hand: its clock seals, reports gather, the
/// round's leader builds once it may, proposals are framed (chain, time
/// bounds, reports) before they are checked, and four sessions decide one
/// checkpoint. Four validators of equal weight: a quorum is three.
@Suite("epoch session: sealing, reports, building, checking and deciding an epoch's checkpoint")
struct EpochSessionTests {
    let network = try! NetworkID("kognita-session")
    let otherNetwork = try! NetworkID("kognita-elsewhere")
    let keys: [SigningKey] = (0..<4).map { index in try! SigningKey(seed: [UInt8](repeating: UInt8(0x21 + index), count: 32)) }
    let outsider = try! SigningKey(seed: [UInt8](repeating: 0x70, count: 32))
    let payer = try! SigningKey(seed: [UInt8](repeating: 0x71, count: 32))
    let rules = EpochRules(epochMillis: 10_000)
    let previousTimestamp: UInt64 = 1_000_000
    let previous = BLAKE2b256.hash([UInt8]("kognita-session genesis".utf8))

    var endMillis: UInt64 { previousTimestamp + rules.epochMillis }

    var committee: Committee {
        try! Committee(network: network, epoch: 0, validators: keys.map { Validator(id: $0.publicKey, weight: 100) })
    }

    func makeSession(_ key: SigningKey?) -> EpochSession {
        EpochSession(committee: committee, rules: rules, previous: previous, previousTimestamp: previousTimestamp,
                     previouslyCarried: [:], key: key)
    }

    func key(of id: PublicKey) -> SigningKey { keys.first { $0.publicKey == id }! }
    /// The leader of `round`, by the agreement's own rule.
    func leader(of round: UInt32) -> SigningKey { key(of: makeSession(nil).agreement.leader(of: round)) }
    var leader: SigningKey { leader(of: 0) }
    /// The three validators that do not lead round 0.
    var followers: [SigningKey] { keys.filter { $0.publicKey != leader.publicKey } }

    func report(_ key: SigningKey, epoch: UInt64 = 0, network: NetworkID? = nil, attested: [PublicKey] = []) -> SealReport {
        SealReport.sign(network: network ?? self.network, epoch: epoch, heads: [], locks: [], attested: attested, with: key)
    }

    /// The genesis ledger every validator holds (nothing happened in the epoch).
    func authority() throws -> Authority {
        var stakes: [AccountID: Stake] = [:]
        for key in keys {
            let registration = Registration.sign(network: network, account: key.publicKey, addresses: ["127.0.0.1:1"], nodeKey: key)
            stakes[key.publicKey] = Stake(bonded: 100, candidate: registration, lastSeated: 0)
        }
        return try Authority.genesis(committee: committee, rules: rules, allocations: [(payer.publicKey, Amount(1_000))], stakes: stakes)
    }

    func makeCut(_ reports: [SealReport]) throws -> EpochCut {
        try EpochCut(reports: reports, committee: committee, previouslyCarried: [:])
    }

    func makeHeader(_ cut: EpochCut, timestamp: UInt64, previous: Bytes32? = nil) throws -> CheckpointHeader {
        CheckpointBuilder.build(authority: try authority(), cut: cut, previous: previous ?? self.previous, timestamp: timestamp).header
    }

    /// A member's session sealed by its clock at `now`, and what sealing returned.
    func sealed(_ key: SigningKey, at now: UInt64) -> (session: EpochSession, actions: [EpochSession.Action]) {
        var session = makeSession(key)
        let tick = session.handle(.tick(nowMillis: now))
        #expect(tick.count == 1 && tick.sealCount == 1, "the clock did not seal at \(now)")
        let actions = session.handle(.sealed(report(key)))
        #expect(session.sealed)
        return (session, actions)
    }

    // MARK: 1. The clock

    @Test("the clock seals a member at the epoch's end with exactly [.seal], and never a non-member")
    func clockSealsMembersOnly() {
        var member = makeSession(keys[1])
        #expect(member.isMember)
        #expect(member.endMillis == 1_010_000)
        #expect(member.handle(.tick(nowMillis: previousTimestamp)).isEmpty)
        #expect(member.handle(.tick(nowMillis: endMillis - 1)).isEmpty)
        let atEnd = member.handle(.tick(nowMillis: endMillis))
        #expect(atEnd.count == 1 && atEnd.sealCount == 1)
        // Until the node answers with its report, every tick asks again, and nothing else.
        let later = member.handle(.tick(nowMillis: endMillis + 5_000))
        #expect(later.count == 1 && later.sealCount == 1)
        #expect(!member.sealed)

        for (name, key) in [("no key", nil), ("a key outside the committee", outsider)] as [(String, SigningKey?)] {
            var follower = makeSession(key)
            #expect(!follower.isMember, "\(name)")
            for now in [endMillis - 1, endMillis, endMillis + 1, endMillis + 3_600_000] {
                #expect(follower.handle(.tick(nowMillis: now)).isEmpty, "\(name) at \(now)")
            }
            #expect(follower.handle(.sealed(report(outsider))).isEmpty, "\(name)")
            #expect(!follower.sealed, "\(name)")
        }
    }

    @Test("a member seals only with its own report of this epoch")
    func sealedNeedsOwnReport() {
        var member = makeSession(keys[1])
        #expect(member.handle(.sealed(report(keys[2]))).isEmpty)
        #expect(member.handle(.sealed(report(keys[1], epoch: 1))).isEmpty)
        #expect(!member.sealed)
        #expect(member.reports.isEmpty)
        #expect(!member.agreement.started)
        #expect(!member.handle(.sealed(report(keys[1]))).isEmpty)
        #expect(member.sealed)
    }

    // MARK: 2. Sealing and building

    @Test("sealing sends the node's report and starts round 0 of the agreement; it builds nothing yet")
    func sealingStartsTheAgreement() {
        for key in keys {
            var session = makeSession(key)
            #expect(session.handle(.tick(nowMillis: endMillis)).sealCount == 1)
            let own = report(key)
            let actions = session.handle(.sealed(own))
            #expect(session.sealed)
            #expect(session.agreement.started)
            #expect(session.agreement.round == 0)
            #expect(actions.sentReports == [own])
            #expect(actions.timeouts.contains { $0.round == 0 && $0.step == .propose })
            #expect(actions.builds.isEmpty, "one report is no quorum")
            #expect(actions.proposals.isEmpty && actions.votes.isEmpty)
            #expect(session.reports == [key.publicKey: own])
            // Sealing twice does nothing.
            #expect(session.handle(.sealed(own)).isEmpty)
        }
    }

    @Test("a leader holding reports of a quorum but not of the whole committee builds only once the grace has passed, from every report it holds")
    func leaderWaitsForTheGrace() throws {
        let t0 = endMillis + 250
        var (session, _) = sealed(leader, at: t0)
        #expect(session.reportGraceMillis == 400)
        #expect(session.handle(.tick(nowMillis: t0)).builds.isEmpty)
        #expect(session.handle(.report(report(followers[0]))).isEmpty)
        #expect(session.handle(.report(report(followers[1]))).isEmpty)
        #expect(session.reports.count == 3)
        #expect(session.handle(.tick(nowMillis: t0 + 200)).builds.isEmpty)
        #expect(session.handle(.tick(nowMillis: t0 + 399)).builds.isEmpty)
        let actions = session.handle(.tick(nowMillis: t0 + 400))
        #expect(actions.builds.count == 1)
        let build = try #require(actions.builds.first)
        #expect(build.round == 0)
        #expect(build.timestamp == t0 + 400)
        #expect(build.timestamp >= endMillis)
        #expect(build.cut == (try makeCut([report(leader), report(followers[0]), report(followers[1])])))
        #expect(Set(build.cut.reports.map(\.validator)) == [leader.publicKey, followers[0].publicKey, followers[1].publicKey])
        // One build at a time.
        #expect(session.handle(.tick(nowMillis: t0 + 500)).builds.isEmpty)
    }

    @Test("a leader with reports of the whole committee builds on the next tick, without waiting for the grace")
    func leaderBuildsAtOnceWithAllReports() throws {
        let t0 = endMillis + 1_000
        var (session, _) = sealed(leader, at: t0)
        #expect(session.handle(.tick(nowMillis: t0)).builds.isEmpty)
        for follower in followers { #expect(session.handle(.report(report(follower))).isEmpty) }
        let actions = session.handle(.tick(nowMillis: t0 + 1))
        let build = try #require(actions.builds.first)
        #expect(actions.builds.count == 1)
        #expect(build.round == 0)
        #expect(build.timestamp == t0 + 1)
        #expect(build.cut.reports.count == 4)
        #expect(build.cut == (try makeCut(keys.map { report($0) })))
    }

    @Test("a leader with reports of less than a quorum never builds, however long it waits")
    func leaderWithoutQuorumNeverBuilds() {
        let t0 = endMillis
        var (session, _) = sealed(leader, at: t0)
        #expect(session.handle(.report(report(followers[0]))).isEmpty)
        for now in stride(from: t0, through: t0 + 60_000, by: 500) {
            #expect(session.handle(.tick(nowMillis: now)).builds.isEmpty, "at \(now)")
        }
    }

    @Test("a build's timestamp is never before the epoch's end, even when the leader sealed early")
    func buildTimestampNotBeforeTheEnd() throws {
        var session = makeSession(leader)
        _ = session.handle(.sealed(report(leader)))
        #expect(session.sealed)
        for follower in followers { _ = session.handle(.report(report(follower))) }
        let actions = session.handle(.tick(nowMillis: endMillis - 1_000))
        let build = try #require(actions.builds.first)
        #expect(build.timestamp == endMillis)
    }

    @Test("a member that does not lead round 0 builds nothing, whatever reports it holds")
    func followersDoNotBuild() {
        for follower in followers {
            var (session, _) = sealed(follower, at: endMillis)
            for key in keys where key.publicKey != follower.publicKey { _ = session.handle(.report(report(key))) }
            #expect(session.reports.count == 4)
            for now in [endMillis, endMillis + 1, endMillis + 500, endMillis + 5_000] {
                #expect(session.handle(.tick(nowMillis: now)).builds.isEmpty)
            }
        }
    }

    // MARK: 3. Proposing

    /// The leader, sealed, with all reports, asked to build; the header it builds.
    func leaderWithBuild(at t0: UInt64) throws -> (session: EpochSession, cut: EpochCut, header: CheckpointHeader, round: UInt32) {
        var (session, _) = sealed(leader, at: t0)
        for follower in followers { _ = session.handle(.report(report(follower))) }
        let build = try #require(session.handle(.tick(nowMillis: t0)).builds.first)
        return (session, build.cut, try makeHeader(build.cut, timestamp: build.timestamp), build.round)
    }

    @Test("the built header goes out as the leader's signed round-0 proposal, with the cut's reports, and the leader prevotes it")
    func builtHeaderIsProposed() throws {
        let built = try leaderWithBuild(at: endMillis + 10)
        var session = built.session
        let cut = built.cut, header = built.header, round = built.round
        let actions = session.handle(.built(header, round: round))
        #expect(actions.proposals.count == 1)
        let sent = try #require(actions.proposals.first)
        #expect(sent.proposal.header == header)
        #expect(sent.proposal.round == 0)
        #expect(sent.proposal.validRound == nil)
        #expect(sent.proposal.proposer == leader.publicKey)
        #expect(sent.proposal.isSigned)
        #expect(sent.reports == cut.reports)
        #expect(sent.reports.map(\.validator) == keys.map(\.publicKey).sorted())
        #expect(session.cuts[header.digest] == cut)
        let prevotes = actions.votes.filter { $0.kind == .prevote }
        #expect(prevotes.count == 1)
        #expect(prevotes.first?.digest == header.digest)
        #expect(prevotes.first?.validator == leader.publicKey)
        #expect(prevotes.first?.round == 0)
        #expect(actions.refusals.isEmpty)
    }

    @Test("a leader that could not build (built nil) builds again on its next tick, and proposes nothing meanwhile")
    func failedBuildIsRetried() throws {
        let built = try leaderWithBuild(at: endMillis)
        var session = built.session
        let failed = session.handle(.built(nil, round: built.round))
        #expect(failed.proposals.isEmpty)
        let again = session.handle(.tick(nowMillis: endMillis + 1))
        #expect(again.builds.count == 1)
        #expect(again.builds.first?.round == 0)
    }

    // MARK: 4. Checking

    @Test("a member whose clock has not sealed yet seals on a valid proposal, checks it once sealed, and prevotes it once valid")
    func followerSealsChecksAndPrevotes() throws {
        let reports = [report(leader), report(followers[1]), report(followers[2])]
        let cut = try makeCut(reports)
        let header = try makeHeader(cut, timestamp: endMillis + 50)
        let proposal = CheckpointProposal.sign(header: header, round: 0, validRound: nil, with: leader)
        let follower = followers[0]

        var session = makeSession(follower)
        // Its clock is a second behind the end, within the two seconds of skew.
        let onProposal = session.handle(.proposal(proposal, reports: reports, nowMillis: endMillis - 1_000))
        #expect(onProposal.count == 1 && onProposal.sealCount == 1)
        #expect(!session.sealed)
        // The proposal's reports are reports like any other.
        #expect(session.reports.count == 3)

        let own = report(follower)
        let onSealed = session.handle(.sealed(own))
        #expect(onSealed.sentReports == [own])
        #expect(onSealed.checks.count == 1)
        let check = try #require(onSealed.checks.first)
        #expect(check.header == header)
        #expect(check.cut == cut)
        #expect(onSealed.votes.isEmpty, "nothing is prevoted before the check")
        #expect(session.reports.count == 4)

        let onChecked = session.handle(.checked(header.digest, valid: true))
        let prevotes = onChecked.votes.filter { $0.kind == .prevote }
        #expect(prevotes.count == 1)
        let prevote = try #require(prevotes.first)
        #expect(prevote.digest == header.digest)
        #expect(prevote.validator == follower.publicKey)
        #expect(prevote.round == 0)
        #expect(prevote.isSigned)
    }

    @Test("a sealed member checks a valid proposal at once, and prevotes nil when its check fails")
    func sealedFollowerPrevotesNilOnFailedCheck() throws {
        let reports = [report(leader), report(followers[1]), report(followers[2])]
        let cut = try makeCut(reports)
        let header = try makeHeader(cut, timestamp: endMillis)
        let proposal = CheckpointProposal.sign(header: header, round: 0, validRound: nil, with: leader)
        var (session, _) = sealed(followers[0], at: endMillis)
        let onProposal = session.handle(.proposal(proposal, reports: reports, nowMillis: endMillis))
        #expect(onProposal.sealCount == 0)
        #expect(onProposal.checks.count == 1)
        #expect(onProposal.checks.first?.cut == cut)
        #expect(onProposal.votes.isEmpty)
        let onChecked = session.handle(.checked(header.digest, valid: false))
        let prevotes = onChecked.votes.filter { $0.kind == .prevote }
        #expect(prevotes.count == 1)
        #expect(prevotes.first.map { $0.digest == nil } == true)
    }

    @Test("a node without a seat checks a valid proposal without sealing")
    func nonMemberChecksWithoutSealing() throws {
        let reports = [report(leader), report(followers[1]), report(followers[2])]
        let cut = try makeCut(reports)
        let header = try makeHeader(cut, timestamp: endMillis)
        let proposal = CheckpointProposal.sign(header: header, round: 0, validRound: nil, with: leader)
        var session = makeSession(nil)
        let actions = session.handle(.proposal(proposal, reports: reports, nowMillis: endMillis))
        #expect(actions.sealCount == 0)
        #expect(actions.checks.count == 1)
        #expect(actions.checks.first?.header == header)
    }

    @Test("a header at the epoch's end and one at the clock plus max_clock_skew are both within bounds", arguments: [UInt64(0), 100, 2_100])
    func timestampBoundsAreInclusive(offset: UInt64) throws {
        let now = endMillis + 100
        let reports = [report(leader), report(followers[1]), report(followers[2])]
        let header = try makeHeader(try makeCut(reports), timestamp: endMillis + offset)
        #expect(header.timestamp >= endMillis && header.timestamp <= now + rules.maxClockSkewMillis)
        let proposal = CheckpointProposal.sign(header: header, round: 0, validRound: nil, with: leader)
        var (sealedSession, _) = sealed(followers[0], at: now)
        #expect(sealedSession.handle(.proposal(proposal, reports: reports, nowMillis: now)).checks.count == 1)
        var unsealed = makeSession(followers[0])
        let actions = unsealed.handle(.proposal(proposal, reports: reports, nowMillis: now))
        #expect(actions.count == 1 && actions.sealCount == 1)
    }

    // MARK: 5. Proposals refused without a check

    enum ProposalFault: String, CaseIterable, Sendable {
        case wrongPrevious, beforeTheEnd, beyondTheSkew, reportsBelowQuorum, reportsWithAnOutsider
        case signedByAFollower, leaderOfAnotherRound, badSignature, otherNetwork

        /// Refused outright as a message (``EpochSession/Action/refused(_:)``),
        /// rather than handed to the agreement as an invalid proposal.
        var refusedAsMessage: Bool {
            switch self {
            case .signedByAFollower, .leaderOfAnotherRound, .badSignature, .otherNetwork: true
            default: false
            }
        }
    }

    func faultyProposal(_ fault: ProposalFault, now: UInt64) throws -> (CheckpointProposal, [SealReport]) {
        let reports = [report(leader), report(followers[1]), report(followers[2])]
        let good = try makeHeader(try makeCut(reports), timestamp: endMillis + 100)
        func byLeader(_ header: CheckpointHeader) -> CheckpointProposal {
            CheckpointProposal.sign(header: header, round: 0, validRound: nil, with: leader)
        }
        switch fault {
        case .wrongPrevious:
            let other = BLAKE2b256.hash([UInt8]("another chain".utf8))
            return (byLeader(try makeHeader(try makeCut(reports), timestamp: endMillis + 100, previous: other)), reports)
        case .beforeTheEnd:
            return (byLeader(try makeHeader(try makeCut(reports), timestamp: endMillis - 1)), reports)
        case .beyondTheSkew:
            return (byLeader(try makeHeader(try makeCut(reports), timestamp: now + rules.maxClockSkewMillis + 1)), reports)
        case .reportsBelowQuorum:
            return (byLeader(good), Array(reports.prefix(2)))
        case .reportsWithAnOutsider:
            return (byLeader(good), Array(reports.prefix(2)) + [report(outsider)])
        case .signedByAFollower:
            return (CheckpointProposal.sign(header: good, round: 0, validRound: nil, with: followers[1]), reports)
        case .leaderOfAnotherRound:
            #expect(leader(of: 1).publicKey != leader.publicKey)
            return (CheckpointProposal.sign(header: good, round: 1, validRound: nil, with: leader), reports)
        case .badSignature:
            let forged = CheckpointProposal.sign(header: good, round: 0, validRound: nil, with: followers[1])
            return (CheckpointProposal(header: good, round: 0, validRound: nil, proposer: leader.publicKey, signature: forged.signature), reports)
        case .otherNetwork:
            let foreign = CheckpointHeader(network: otherNetwork, epoch: 0, previous: previous, timestamp: good.timestamp,
                                           stateRoot: good.stateRoot, bodies: good.bodies, nextCommittee: good.nextCommittee)
            return (byLeader(foreign), reports)
        }
    }

    @Test("a proposal is refused without a check: wrong previous, before the end, beyond the clock bound, reports short of a quorum or from an outsider, not from the round's leader, badly signed, another network",
          arguments: ProposalFault.allCases)
    func faultyProposalsAreRefused(fault: ProposalFault) throws {
        let now = endMillis + 100
        let follower = followers[0]
        let (proposal, reports) = try faultyProposal(fault, now: now)

        // A member that has not sealed does not seal on it, and checks nothing.
        var unsealed = makeSession(follower)
        let early = unsealed.handle(.proposal(proposal, reports: reports, nowMillis: now))
        #expect(early.sealCount == 0)
        #expect(early.checks.isEmpty)
        #expect(!unsealed.sealed)

        // A sealed member checks nothing and prevotes nil (at once, or when round 0's proposal time is up).
        var (session, sealing) = sealed(follower, at: now)
        let proposeTimeout = try #require(sealing.timeouts.first { $0.round == 0 && $0.step == .propose })
        let onProposal = session.handle(.proposal(proposal, reports: reports, nowMillis: now))
        #expect(onProposal.checks.isEmpty)
        #expect(onProposal.refusals.count == (fault.refusedAsMessage ? 1 : 0))
        let onTimeout = session.handle(.timeout(proposeTimeout))
        let prevotes = (onProposal + onTimeout).votes.filter { $0.kind == .prevote }
        #expect(prevotes.count == 1)
        #expect(prevotes.first.map { $0.digest == nil } == true, "prevoted \(String(describing: prevotes.first?.digest))")
        #expect(session.handle(.tick(nowMillis: now + 300)).checks.isEmpty)
    }

    // MARK: 6. Deciding

    @Test("four sessions, every message delivered, decide one checkpoint in round 0; it verifies and nothing is handled after it")
    func fourSessionsDecide() throws {
        let authority = try authority()
        var net = SessionNetwork(sessions: keys.map { makeSession($0) }, keys: keys, authority: authority, previous: previous, now: endMillis)
        net.run(steps: 100)

        #expect(net.refusals.isEmpty, "\(net.refusals)")
        #expect(net.failedChecks == 0)
        #expect(net.decisions.count == 4)
        for (node, decided) in net.decisions { #expect(decided.count == 1, "node \(node) decided \(decided.count) times") }
        let checkpoints = net.decisions.values.compactMap { $0.first?.checkpoint }
        #expect(Set(checkpoints.map(\.header.digest)).count == 1, "the sessions decided different headers")
        let checkpoint = try #require(checkpoints.first)
        try checkpoint.verify(for: committee)
        #expect(checkpoint.round == 0)
        #expect(checkpoint.header.epoch == 0)
        #expect(checkpoint.header.previous == previous)
        #expect(checkpoint.header.timestamp >= endMillis)
        #expect(checkpoint.signatures.count >= 3)
        // The cut behind it: the one the leader built from, known to every session.
        let leaderIndex = try #require(keys.firstIndex { $0.publicKey == leader.publicKey })
        let built = try #require(net.builds[leaderIndex]?.first)
        #expect(net.builds.count == 1, "only round 0's leader builds")
        #expect(built.reports.count == 4)
        for decided in net.decisions.values { #expect(decided.first?.cut == built) }

        for index in net.sessions.indices {
            #expect(net.sessions[index].decision?.header.digest == checkpoint.header.digest)
            try #require(net.sessions[index].decision).verify(for: committee)
            #expect(net.sessions[index].handle(.tick(nowMillis: net.now + 60_000)).isEmpty)
            #expect(net.sessions[index].handle(.report(report(outsider))).isEmpty)
            #expect(net.sessions[index].handle(.vote(CheckpointVote.sign(.prevote, network: network, epoch: 0, round: 5, digest: nil, with: keys[index]))).isEmpty)
        }
    }

    @Test("with round 0's leader silent, the other three change round and decide the header of round 1's leader, built from their three reports")
    func silentLeaderIsReplaced() throws {
        let authority = try authority()
        let silent = try #require(keys.firstIndex { $0.publicKey == leader.publicKey })
        let roundOneLeader = try #require(keys.firstIndex { $0.publicKey == leader(of: 1).publicKey })
        var net = SessionNetwork(sessions: keys.map { makeSession($0) }, keys: keys, authority: authority, previous: previous, now: endMillis)
        net.alive[silent] = false
        net.run(steps: 300)

        #expect(net.refusals.isEmpty, "\(net.refusals)")
        #expect(net.decisions[silent] == nil)
        #expect(net.decisions.count == 3)
        let checkpoints = net.decisions.values.compactMap { $0.first?.checkpoint }
        #expect(Set(checkpoints.map(\.header.digest)).count == 1)
        let checkpoint = try #require(checkpoints.first)
        try checkpoint.verify(for: committee)
        #expect(checkpoint.round == 1)
        #expect(net.builds.keys.sorted() == [roundOneLeader])
        let built = try #require(net.builds[roundOneLeader]?.first)
        #expect(Set(built.reports.map(\.validator)) == Set(keys.indices.filter { $0 != silent }.map { keys[$0].publicKey }))
    }

    // MARK: 7. Reports

    @Test("reports of another epoch or network, from a non-member, badly signed or twice from one validator do not count toward the leader's quorum")
    func badReportsDoNotCount() throws {
        let t0 = endMillis
        var (session, _) = sealed(leader, at: t0)
        #expect(session.handle(.tick(nowMillis: t0)).builds.isEmpty)
        let first = report(followers[0])
        #expect(session.handle(.report(first)).isEmpty)
        #expect(session.reports.count == 2)

        // Each of these, counted, would make a quorum (three of four).
        #expect(session.handle(.report(report(followers[1], epoch: 1))).isEmpty, "another epoch's report is late or early, not refused")
        #expect(session.handle(.report(report(followers[1], network: otherNetwork))).refusals.count == 1)
        #expect(session.handle(.report(report(outsider))).refusals.count == 1)
        let forged = SealReport(network: network, epoch: 0, validator: followers[2].publicKey, heads: [], locks: [], attested: [],
                                signature: report(followers[1]).signature)
        #expect(!forged.isSigned)
        #expect(session.handle(.report(forged)).refusals.count == 1)
        #expect(session.handle(.report(first)).isEmpty)
        let equivocation = report(followers[0], attested: [outsider.publicKey])
        #expect(equivocation.isSigned && equivocation != first)
        #expect(session.handle(.report(equivocation)).isEmpty)

        #expect(Set(session.reports.keys) == [leader.publicKey, followers[0].publicKey])
        #expect(session.reports[followers[0].publicKey] == first)
        for now in [t0 + 400, t0 + 1_000, t0 + 30_000] {
            #expect(session.handle(.tick(nowMillis: now)).builds.isEmpty, "built at \(now) from two reports")
        }

        // The refused ones did not shut out the real reports of those validators.
        let second = report(followers[1])
        #expect(session.handle(.report(second)).isEmpty)
        let build = try #require(session.handle(.tick(nowMillis: t0 + 30_001)).builds.first)
        #expect(build.cut.reports == [report(leader), first, second].sorted { $0.validator < $1.validator })
        #expect(session.handle(.report(report(followers[2]))).isEmpty)
        #expect(session.reports.count == 4)
    }

    @Test("a proposal's good reports join the node's reports; its bad ones do not")
    func proposalReportsJoin() throws {
        let reports = [report(leader), report(followers[1]), report(followers[2])]
        let header = try makeHeader(try makeCut(reports), timestamp: endMillis)
        let proposal = CheckpointProposal.sign(header: header, round: 0, validRound: nil, with: leader)
        var (session, _) = sealed(followers[0], at: endMillis)
        let attached = reports + [report(outsider), report(followers[1], network: otherNetwork)]
        _ = session.handle(.proposal(proposal, reports: attached, nowMillis: endMillis))
        #expect(Set(session.reports.keys) == Set(keys.map(\.publicKey)))
        #expect(session.reports[followers[1].publicKey] == reports[1])
    }

    // MARK: Votes and resending

    @Test("votes from outside the committee or of another network are refused; votes of another epoch are ignored")
    func foreignVotes() {
        var (session, _) = sealed(followers[0], at: endMillis)
        let digest = BLAKE2b256.hash([UInt8]("some header".utf8))
        #expect(session.handle(.vote(CheckpointVote.sign(.prevote, network: network, epoch: 0, round: 0, digest: digest, with: outsider))).refusals.count == 1)
        #expect(session.handle(.vote(CheckpointVote.sign(.prevote, network: otherNetwork, epoch: 0, round: 0, digest: digest, with: keys[1]))).refusals.count == 1)
        #expect(session.handle(.vote(CheckpointVote.sign(.prevote, network: network, epoch: 1, round: 0, digest: digest, with: keys[1]))).isEmpty)
    }

    @Test("a sealed member resends its report and its agreement messages every resendMillis")
    func resends() throws {
        let t0 = endMillis
        let reports = [report(leader), report(followers[1]), report(followers[2])]
        let header = try makeHeader(try makeCut(reports), timestamp: t0)
        let proposal = CheckpointProposal.sign(header: header, round: 0, validRound: nil, with: leader)
        let follower = followers[0]
        var (session, _) = sealed(follower, at: t0)
        #expect(session.resendMillis == 1_000)
        #expect(session.handle(.tick(nowMillis: t0)).sentReports == [report(follower)])
        #expect(session.handle(.tick(nowMillis: t0 + 999)).sentReports.isEmpty)
        _ = session.handle(.proposal(proposal, reports: reports, nowMillis: t0 + 999))
        let prevote = try #require(session.handle(.checked(header.digest, valid: true)).votes.first)
        let resent = session.handle(.tick(nowMillis: t0 + 1_000))
        #expect(resent.sentReports == [report(follower)])
        #expect(resent.votes == [prevote])
        #expect(session.handle(.tick(nowMillis: t0 + 1_500)).isEmpty)
    }

    // MARK: A header once refused for its frame

    /// A Byzantine leader of round 0 sends one validator its (valid) header
    /// with too few reports attached; the others lock on it. When round 1's
    /// honest leader re-proposes the header with its polka and its full
    /// reports, that validator should check it again: the refusal was about
    /// the attachments, not the header. It prevotes nil instead, because the
    /// verdict is cached by header digest.
    @Test("a header first refused for its attached reports is checked again when re-proposed with all of them")
    func refusalForAttachmentsIsNotTheHeadersVerdict() throws {
        let t0 = endMillis + 100
        let roundZero = leader, roundOne = leader(of: 1)
        let others = keys.filter { $0.publicKey != roundZero.publicKey && $0.publicKey != roundOne.publicKey }
        let node = others[0], locked = others[1]
        let reports = [report(roundZero), report(roundOne), report(locked)]
        let cut = try makeCut(reports)
        let header = try makeHeader(cut, timestamp: t0)

        var (session, _) = sealed(node, at: t0)
        // Round 0: the header with two of its three reports.
        let truncated = CheckpointProposal.sign(header: header, round: 0, validRound: nil, with: roundZero)
        let refused = session.handle(.proposal(truncated, reports: Array(reports.prefix(2)), nowMillis: t0))
        #expect(refused.votes.contains { $0.kind == .prevote && $0.digest == nil && $0.round == 0 })
        // The others prevote the header (a polka), lock and precommit it; this node precommits nil and moves on.
        var timers: [CheckpointAgreement.Timeout] = []
        for key in [roundZero, roundOne, locked] {
            timers += session.handle(.vote(CheckpointVote.sign(.prevote, network: network, epoch: 0, round: 0, digest: header.digest, with: key))).timeouts
        }
        let prevoteTimeout = try #require(timers.first { $0.round == 0 && $0.step == .prevote })
        #expect(session.handle(.timeout(prevoteTimeout)).votes.contains { $0.kind == .precommit && $0.digest == nil })
        timers = []
        for key in [roundOne, locked] {
            timers += session.handle(.vote(CheckpointVote.sign(.precommit, network: network, epoch: 0, round: 0, digest: header.digest, with: key))).timeouts
        }
        let precommitTimeout = try #require(timers.first { $0.round == 0 && $0.step == .precommit })
        _ = session.handle(.timeout(precommitTimeout))
        #expect(session.agreement.round == 1)
        #expect(session.decision == nil)

        // Round 1: the honest leader re-proposes the header, with the polka's round and the cut's reports.
        let reproposal = CheckpointProposal.sign(header: header, round: 1, validRound: 0, with: roundOne)
        let actions = session.handle(.proposal(reproposal, reports: cut.reports, nowMillis: t0 + 3_000))
        #expect(actions.checks.count == 1, "the re-proposed header was not checked again")
        #expect(!actions.votes.contains { $0.kind == .prevote && $0.digest == nil }, "prevoted nil on a header a quorum locked on")
    }
}

// MARK: - A network of sessions

/// Sessions that hear every message the others send, at once and in order;
/// a node's seal, build and check are answered from one shared ledger.
fileprivate struct SessionNetwork {
    var sessions: [EpochSession]
    let keys: [SigningKey]
    let authority: Authority
    let previous: Bytes32
    var now: UInt64
    var alive: [Bool]
    var queue: [(to: Int, event: EpochSession.Event)] = []
    var timers: [(at: UInt64, node: Int, timeout: CheckpointAgreement.Timeout)] = []
    var decisions: [Int: [(checkpoint: SignedCheckpoint, cut: EpochCut?)]] = [:]
    var builds: [Int: [EpochCut]] = [:]
    var refusals: [String] = []
    var failedChecks = 0

    init(sessions: [EpochSession], keys: [SigningKey], authority: Authority, previous: Bytes32, now: UInt64) {
        self.sessions = sessions
        self.keys = keys
        self.authority = authority
        self.previous = previous
        self.now = now
        alive = sessions.map { _ in true }
    }

    mutating func deliver(_ node: Int, _ event: EpochSession.Event) {
        guard alive[node] else { return }
        let actions = sessions[node].handle(event)
        perform(node, actions)
    }

    mutating func perform(_ node: Int, _ actions: [EpochSession.Action]) {
        let others = sessions.indices.filter { $0 != node }
        for action in actions {
            switch action {
            case .seal:
                let session = sessions[node]
                let report = SealReport.sign(network: session.committee.network, epoch: session.epoch, heads: [], locks: [],
                                             attested: [], with: keys[node])
                queue.append((node, .sealed(report)))
            case .sendReport(let report):
                for other in others { queue.append((other, .report(report))) }
            case .send(.proposal(let proposal), let reports):
                for other in others { queue.append((other, .proposal(proposal, reports: reports, nowMillis: now))) }
            case .send(.vote(let vote), _):
                for other in others { queue.append((other, .vote(vote))) }
            case .schedule(let timeout, let milliseconds):
                timers.append((now + milliseconds, node, timeout))
            case .build(let cut, let timestamp, let round):
                builds[node, default: []].append(cut)
                let header = CheckpointBuilder.build(authority: authority, cut: cut, previous: previous, timestamp: timestamp).header
                queue.append((node, .built(header, round: round)))
            case .check(let header, let cut):
                let rebuilt = CheckpointBuilder.build(authority: authority, cut: cut, previous: previous, timestamp: header.timestamp).header
                if rebuilt.digest != header.digest { failedChecks += 1 }
                queue.append((node, .checked(header.digest, valid: rebuilt.digest == header.digest)))
            case .decided(let checkpoint, let cut):
                decisions[node, default: []].append((checkpoint, cut))
            case .refused(let why):
                refusals.append(why)
            }
        }
    }

    /// Steps of `stepMillis`: due timers fire, every node ticks, then every message is delivered.
    mutating func run(steps: Int, stepMillis: UInt64 = 100) {
        for _ in 0..<steps {
            let due = timers.filter { $0.at <= now }
            timers.removeAll { $0.at <= now }
            for timer in due { deliver(timer.node, .timeout(timer.timeout)) }
            for node in sessions.indices { deliver(node, .tick(nowMillis: now)) }
            while !queue.isEmpty {
                let next = queue.removeFirst()
                deliver(next.to, next.event)
            }
            if sessions.indices.allSatisfy({ !alive[$0] || decisions[$0] != nil }) { return }
            now += stepMillis
        }
    }
}

// MARK: - Reading actions

fileprivate extension Array where Element == EpochSession.Action {
    var sealCount: Int { filter { if case .seal = $0 { return true } else { return false } }.count }

    var sentReports: [SealReport] {
        compactMap { action -> SealReport? in
            if case .sendReport(let report) = action { return report }
            return nil
        }
    }

    var builds: [(cut: EpochCut, timestamp: UInt64, round: UInt32)] {
        compactMap { action -> (cut: EpochCut, timestamp: UInt64, round: UInt32)? in
            if case .build(let cut, let timestamp, let round) = action { return (cut, timestamp, round) }
            return nil
        }
    }

    var checks: [(header: CheckpointHeader, cut: EpochCut)] {
        compactMap { action -> (header: CheckpointHeader, cut: EpochCut)? in
            if case .check(let header, let cut) = action { return (header, cut) }
            return nil
        }
    }

    var proposals: [(proposal: CheckpointProposal, reports: [SealReport])] {
        compactMap { action -> (proposal: CheckpointProposal, reports: [SealReport])? in
            if case .send(.proposal(let proposal), let reports) = action { return (proposal, reports) }
            return nil
        }
    }

    var votes: [CheckpointVote] {
        compactMap { action -> CheckpointVote? in
            if case .send(.vote(let vote), _) = action { return vote }
            return nil
        }
    }

    var timeouts: [CheckpointAgreement.Timeout] {
        compactMap { action -> CheckpointAgreement.Timeout? in
            if case .schedule(let timeout, _) = action { return timeout }
            return nil
        }
    }

    var refusals: [String] {
        compactMap { action -> String? in
            if case .refused(let why) = action { return why }
            return nil
        }
    }
}

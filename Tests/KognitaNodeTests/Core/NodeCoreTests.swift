import KognitaCore
import KognitaLedger
import KognitaNode
import KognitaTesting
import Testing

/// The node's decisions without sockets, disks or clocks: events in, actions out.
@Suite("node core: decisions as events in, actions out")
struct NodeCoreTests {
    let fixture = LedgerFixture()

    func core(_ index: Int = 0, authority: Authority? = nil) throws -> NodeCore {
        var core = try NodeCore(genesisCommittee: fixture.committee, genesisDigest: BLAKE2b256.hash([7]), start: 0, checkpoints: [],
                                carried: [:], touched: [], identity: fixture.validatorKeys[index], authority: authority ?? fixture.authority())
        _ = core.handle(.peers(Set(fixture.validatorKeys.map(\.publicKey)).subtracting([fixture.validatorKeys[index].publicKey])), now: 1)
        _ = core.handle(.ready, now: 1)
        return core
    }

    /// Whether an action sends a vote or answers `final`, outside any ``NodeCore/Action/afterDurable(_:)``.
    static func bare(_ actions: [NodeCore.Action], _ matches: (NodeCore.Action) -> Bool) -> Bool { actions.contains(where: matches) }
    static func isVote(_ action: NodeCore.Action) -> Bool { if case .broadcast(.vote) = action { true } else { false } }
    static func isFinal(_ action: NodeCore.Action) -> Bool { if case .reply(_, let ack) = action { ack.status == .final } else { false } }
    static func deferred(_ actions: [NodeCore.Action]) -> [NodeCore.Action] {
        actions.flatMap { action -> [NodeCore.Action] in if case .afterDurable(let later) = action { later } else { [] } }
    }

    @Test("a validator's vote leaves only after the lock it takes is durable")
    func voteAfterLock() throws {
        var node = try core()
        let batch = fixture.batch(seq: 1)
        let submitted = node.handle(.submit(batch, waiter: 1), now: 10)
        #expect(submitted.contains { if case .reply(1, let ack) = $0 { ack.status == .accepted } else { false } })
        #expect(!Self.bare(submitted, Self.isVote))
        let flushed = node.handle(.flushVotes, now: 12)
        #expect(!Self.bare(flushed, Self.isVote), "a vote went out before its lock was durable")
        guard let lockAt = flushed.firstIndex(where: { if case .persist(let changes) = $0 { changes.newLocks[batch.signer] != nil } else { false } }),
              let voteAt = flushed.firstIndex(where: { Self.deferred([$0]).contains(where: Self.isVote) }) else {
            Issue.record("expected the lock persisted, then the vote after it is durable: \(flushed)")
            return
        }
        #expect(lockAt < voteAt)
    }

    @Test("a client hears final only after the batch is durable on this node, with a certificate of real votes")
    func finalAfterDurable() throws {
        var node = try core()
        let batch = fixture.batch(seq: 1)
        _ = node.handle(.submit(batch, waiter: 7), now: 10)
        var actions: [NodeCore.Action] = []
        for index in 1...3 {
            let vote = try Vote.sign(keys: [BatchKey(batch)], network: fixture.network, epoch: 0, with: fixture.validatorKeys[index]).verify(for: fixture.committee)
            actions += node.handle(.vote(vote), now: 20)
        }
        #expect(!Self.bare(actions, Self.isFinal), "final was answered before the batch was durable")
        let finals = Self.deferred(actions).filter(Self.isFinal)
        #expect(finals.count == 1)
        guard case .reply(7, let ack)? = finals.first, let bytes = ack.cert else { Issue.record("no final for the waiting client"); return }
        #expect(try Certificate(decoding: bytes).verify(for: fixture.committee).batch == BatchKey(batch))
        #expect(actions.contains { if case .persist(let changes) = $0 { changes.finalBatches.contains { $0.batch.id == batch.id } } else { false } })
        #expect(node.head(of: batch.signer).nextSeq == 2)
    }

    @Test("at the seal a validator attests only candidates it reaches that have caught up with the chain")
    func attestsCaughtUpCandidates() throws {
        let candidate = SigningKey(), account = SigningKey()
        let registration = Registration.sign(network: fixture.network, account: account.publicKey, addresses: ["10.0.0.9:7000"], nodeKey: candidate)
        let authority = try Authority.genesis(committee: fixture.committee, allocations: [(fixture.payer.publicKey, Amount(100))],
                                              stakes: [account.publicKey: Stake(bonded: 5, candidate: registration)])
        let end = authority.rules.epochMillis + 1

        func attested(progress: UInt64?) throws -> [PublicKey] {
            var node = try core(authority: authority)
            let everyone = Set(fixture.validatorKeys.map(\.publicKey)).subtracting([fixture.validatorKeys[0].publicKey]).union([candidate.publicKey])
            _ = node.handle(.peers(everyone), now: 2)
            if let progress { _ = node.handle(.progress(candidate.publicKey, epoch: progress), now: 3) }
            let sealed = node.handle(.tick, now: end)
            for action in sealed { if case .broadcast(.sealReport(let report)) = action { return report.attested } }
            Issue.record("the validator did not seal at its epoch's end: \(sealed)")
            return []
        }
        #expect(try attested(progress: nil).isEmpty, "a connected candidate that never said it caught up was attested")
        #expect(try attested(progress: 0) == [candidate.publicKey])
    }

    @Test("a new peer hears how far this node is")
    func announcesProgress() throws {
        var node = try core()
        let newcomer = SigningKey().publicKey
        let actions = node.handle(.peers(node.peers.union([newcomer])), now: 5)
        #expect(actions.contains { if case .send(.progress(0), let to) = $0 { to == newcomer } else { false } })
    }
}

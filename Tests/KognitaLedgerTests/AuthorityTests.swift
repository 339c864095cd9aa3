import Testing
import KognitaCore
import KognitaLedger
import KognitaTesting

@Suite("ledger authority: voting")
struct AuthorityVotingTests {
    let fixture = LedgerFixture()

    @Test("a valid next batch gets a vote and takes a new lock")
    func votesForNextBatch() {
        var authority = fixture.authority()
        let batch = fixture.batch(seq: 1)
        #expect(authority.handle(batch) == .vote(batch.id, lockIsNew: true))
        #expect(authority.locks[fixture.payer.publicKey] == Lock(seq: 1, id: batch.id))
    }

    @Test("an identical resend gets the same vote back, without a new lock")
    func identicalResendSameVote() {
        var authority = fixture.authority()
        let batch = fixture.batch(seq: 1)
        _ = authority.handle(batch)
        #expect(authority.handle(batch) == .vote(batch.id, lockIsNew: false))
    }

    @Test("double spend at one seq is refused: a different batch at a locked seq gets conflict")
    func doubleSpendRefused() {
        var authority = fixture.authority()
        let first = fixture.batch(seq: 1, amounts: [10])
        let second = fixture.batch(seq: 1, amounts: [20])
        _ = authority.handle(first)
        guard case .rejected(let rejection) = authority.handle(second) else { Issue.record("voted twice at one seq"); return }
        #expect(rejection.reason == .conflict)
        #expect(authority.locks[fixture.payer.publicKey]?.id == first.id)
    }

    @Test("a batch ahead of its predecessor waits, and is voted on when the predecessor is final")
    func aheadWaitsThenVoted() throws {
        var authority = fixture.authority()
        let first = fixture.batch(seq: 1)
        let second = fixture.batch(seq: 2, prev: first.id)
        #expect(authority.handle(second) == .waiting)
        #expect(authority.waitingCount == 1)
        _ = authority.handle(first)
        guard case .applied(let applied) = try authority.apply(first, fixture.verified(first)) else { Issue.record("not applied"); return }
        #expect(applied.followUps.count == 1)
        #expect(applied.followUps.first?.batch == second)
        #expect(applied.followUps.first?.decision == .vote(second.id, lockIsNew: true))
        #expect(authority.waitingCount == 0)
    }

    @Test("a seq too far ahead is a gap")
    func farAheadIsGap() {
        var authority = fixture.authority()
        guard case .rejected(let rejection) = authority.handle(fixture.batch(seq: 1 + Authority.lookahead + 1)) else {
            Issue.record("not refused"); return
        }
        #expect(rejection.reason == .gap)
        #expect(rejection.head.nextSeq == 1)
    }

    @Test("insufficient funds is refused, with the head that shows the balance")
    func insufficientFunds() {
        var authority = fixture.authority()
        guard case .rejected(let rejection) = authority.handle(fixture.batch(seq: 1, amounts: [LedgerFixture.funding], fee: 1)) else {
            Issue.record("not refused"); return
        }
        #expect(rejection.reason == .insufficientFunds)
        #expect(rejection.head.balance == Amount(LedgerFixture.funding))
        #expect(authority.locks.isEmpty, "a refused batch took a lock")
    }

    @Test("amounts whose sum overflows are malformed: no such batch can be signed or decoded, so none reaches the ledger")
    func overflowRefused() {
        let batch = Batch(network: fixture.network, seq: 1, created: 1,
                          transfers: [Transfer(to: fixture.payee.publicKey, amount: .max), Transfer(to: fixture.payee.publicKey, amount: 2)])
        #expect(throws: ProtocolError.self) { try SignedBatch.sign(batch, with: fixture.payer) }
        #expect(throws: AmountError.self) { try batch.totalDebit() }
    }

    @Test("a batch for another network is refused as wrong-network")
    func wrongNetwork() throws {
        var authority = fixture.authority()
        guard case .rejected(let rejection) = authority.handle(fixture.batch(seq: 1, network: try NetworkID("elsewhere"))) else {
            Issue.record("not refused"); return
        }
        #expect(rejection.reason == .wrongNetwork)
    }

    @Test("a fee below the minimum is refused as fee-too-low")
    func feeTooLow() {
        var authority = fixture.authority(minimumFee: 5)
        guard case .rejected(let rejection) = authority.handle(fixture.batch(seq: 1, fee: 4)) else { Issue.record("not refused"); return }
        #expect(rejection.reason == .feeTooLow)
        #expect(authority.handle(fixture.batch(seq: 1, fee: 5)) != .waiting)
    }

    @Test("a next batch whose prev is not the last final batch is stale")
    func wrongPrevIsStale() throws {
        var authority = fixture.authority()
        let first = fixture.batch(seq: 1)
        _ = try authority.apply(first, fixture.verified(first))
        guard case .rejected(let rejection) = authority.handle(fixture.batch(seq: 2, prev: BatchID(BLAKE2b256.hash([1, 2, 3])))) else {
            Issue.record("not refused"); return
        }
        #expect(rejection.reason == .stale)
    }

    @Test("a batch at a final seq is answered from the head (final or stale is the node's to tell)")
    func belowNext() throws {
        var authority = fixture.authority()
        let first = fixture.batch(seq: 1)
        _ = authority.handle(first)
        _ = try authority.apply(first, fixture.verified(first))
        #expect(authority.handle(first) == .belowNext(authority.state(of: fixture.payer.publicKey).head))
    }

    @Test("a full waiting area answers overloaded instead of growing")
    func waitingIsBounded() {
        var authority = Authority(committee: fixture.committee, accounts: [:], maxWaiting: 1)
        #expect(authority.handle(fixture.batch(seq: 2)) == .waiting)
        guard case .rejected(let rejection) = authority.handle(fixture.batch(seq: 3)) else { Issue.record("not refused"); return }
        #expect(rejection.reason == .overloaded)
        #expect(authority.handle(fixture.batch(seq: 2, amounts: [11])) == .waiting, "a re-chained batch at a waiting seq replaces it")
    }
}

import Testing
import KognitaCore
import KognitaLedger
import KognitaTesting

@Suite("ledger authority: applying certificates")
struct ApplyTests {
    let fixture = LedgerFixture()

    @Test("applying debits the sender (amounts and fee), credits the recipient, fills the fee pool and releases the lock")
    func appliesTransfers() throws {
        var authority = fixture.authority()
        let batch = fixture.batch(seq: 1, amounts: [10, 20], fee: 3)
        _ = authority.handle(batch)
        guard case .applied(let applied) = try authority.apply(batch, fixture.verified(batch)) else { Issue.record("not applied"); return }
        #expect(applied.changedAccounts == [fixture.payer.publicKey, fixture.payee.publicKey])
        #expect(applied.releasedLocks[fixture.payer.publicKey]?.id == batch.id)
        let payer = authority.state(of: fixture.payer.publicKey)
        #expect(payer.balance == Int128(LedgerFixture.funding - 33))
        #expect(payer.nextSeq == 2 && payer.lastFinal == batch.id)
        #expect(authority.state(of: fixture.payee.publicKey).balance == 30)
        #expect(authority.feePool == 3)
        #expect(authority.locks.isEmpty)
        #expect(authority.totalMoney == Int128(LedgerFixture.funding))
    }

    @Test("applying a certificate twice changes nothing")
    func applyTwice() throws {
        var authority = fixture.authority()
        let batch = fixture.batch(seq: 1)
        let certificate = try fixture.verified(batch)
        _ = try authority.apply(batch, certificate)
        let digest = authority.stateDigest
        #expect(try authority.apply(batch, certificate) == .alreadyFinal)
        #expect(authority.stateDigest == digest)
    }

    @Test("a node that never voted (it was down) applies certificates all the same")
    func applyWithoutVoting() throws {
        var authority = fixture.authority()
        let batch = fixture.batch(seq: 1)
        guard case .applied = try authority.apply(batch, fixture.verified(batch)) else { Issue.record("not applied"); return }
        #expect(authority.state(of: fixture.payer.publicKey).nextSeq == 2)
    }

    @Test("certificates that arrive ahead of their predecessor wait, then apply in order")
    func certifiedAheadAppliesInOrder() throws {
        var authority = fixture.authority()
        let first = fixture.batch(seq: 1)
        let second = fixture.batch(seq: 2, prev: first.id)
        let third = fixture.batch(seq: 3, prev: second.id)
        #expect(try authority.apply(third, fixture.verified(third)) == .waitingForPredecessor)
        #expect(try authority.apply(second, fixture.verified(second)) == .waitingForPredecessor)
        guard case .applied(let applied) = try authority.apply(first, fixture.verified(first)) else { Issue.record("not applied"); return }
        #expect(applied.batches == [first, second, third])
        #expect(authority.state(of: fixture.payer.publicKey).nextSeq == 4)
    }

    @Test("credits commute: certificates of different accounts applied in either order give the same ledger")
    func creditsCommute() throws {
        let other = SigningKey()
        func run(_ reversed: Bool) throws -> Bytes32 {
            var authority = try Authority.genesis(committee: fixture.committee, allocations: [
                (fixture.payer.publicKey, Amount(LedgerFixture.funding)), (other.publicKey, 500),
            ])
            let a = fixture.batch(seq: 1, amounts: [100], to: other.publicKey)
            let b = fixture.batch(seq: 1, amounts: [50], from: other, to: fixture.payer.publicKey)
            for batch in reversed ? [b, a] : [a, b] { _ = try authority.apply(batch, fixture.verified(batch)) }
            #expect(authority.totalMoney == Int128(LedgerFixture.funding + 500))
            return authority.stateDigest
        }
        #expect(try run(false) == run(true))
    }

    @Test("a debit applied before the credit that paid for it dips the balance below zero and recovers; the head shows 0")
    func transientNegative() throws {
        let middle = SigningKey()
        var authority = fixture.authority()
        // The payer pays middle 100; middle (voted on elsewhere, where that
        // credit was already final) pays 80 on. This node sees middle's first.
        let credit = fixture.batch(seq: 1, amounts: [100], to: middle.publicKey)
        let spend = fixture.batch(seq: 1, amounts: [80], from: middle)
        _ = try authority.apply(spend, fixture.verified(spend))
        #expect(authority.state(of: middle.publicKey).balance == -80)
        #expect(authority.state(of: middle.publicKey).head.balance == .zero)
        _ = try authority.apply(credit, fixture.verified(credit))
        #expect(authority.state(of: middle.publicKey).balance == 20)
        #expect(authority.totalMoney == Int128(LedgerFixture.funding))
    }

    @Test("a certified batch whose prev disagrees with the ledger is refused, not applied")
    func prevDisagreement() throws {
        var authority = fixture.authority()
        let first = fixture.batch(seq: 1)
        _ = try authority.apply(first, fixture.verified(first))
        let forked = fixture.batch(seq: 2, prev: BatchID(BLAKE2b256.hash([9])))
        let digest = authority.stateDigest
        #expect(throws: LedgerError.self) { try authority.apply(forked, fixture.verified(forked)) }
        #expect(authority.stateDigest == digest)
    }
}

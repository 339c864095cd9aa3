import Testing
import KognitaCore
import KognitaLedger
import KognitaTesting

// MARK: - Helpers (private to this file)

/// 32 bytes all equal to `byte`: a key whose place in bytewise order is known.
private func fixedKey(_ byte: UInt8) -> PublicKey { PublicKey(try! Bytes32([UInt8](repeating: byte, count: 32))) }

private let dummySignature = try! Signature(bytes: [UInt8](repeating: 0, count: 64))

/// A registration whose node signature is not checked (the ledger and the
/// election never check it; SignedBatch.verify does, which these tests skip).
private func unsignedRegistration(node: PublicKey) -> Registration {
    Registration(node: node, addresses: ["10.0.0.1:7400"], nodeSignature: dummySignature)
}

extension LedgerFixture {
    /// A signed version-2 batch of `from` (default the payer) carrying `operations`.
    fileprivate func operationsBatch(seq: UInt64, prev: BatchID = .zero, operations: [Operation], transfers: [Transfer] = [],
                                     fee: UInt64 = 0, from: SigningKey? = nil) -> SignedBatch {
        let batch = Batch(network: network, seq: seq, prev: prev, created: 1, fee: Amount(fee), transfers: transfers, operations: operations)
        return try! SignedBatch.sign(batch, with: from ?? payer)
    }

    /// A registration of `nodeKey` for `account`, signed by the node.
    fileprivate func registration(for account: AccountID, nodeKey: SigningKey, addresses: [String] = ["10.0.0.1:7400"]) -> Registration {
        Registration.sign(network: network, account: account, addresses: addresses, nodeKey: nodeKey)
    }

    /// This fixture's validators as the committee of `epoch`.
    fileprivate func committee(epoch: UInt64) -> Committee {
        try! Committee(network: network, epoch: epoch, validators: validatorKeys.map { Validator(id: $0.publicKey, weight: 1) })
    }

    /// A certificate of `epoch` for `batch`, from real votes of three of the four validators.
    fileprivate func certificate(_ batch: SignedBatch, epoch: UInt64) throws -> VerifiedCertificate {
        let committee = committee(epoch: epoch)
        var assembler = CertificateAssembler(committee: committee)
        var made: [VerifiedCertificate] = []
        for key in validatorKeys.prefix(3) {
            made += assembler.add(try #require(Vote.signVerified(keys: [BatchKey(batch)], committee: committee, with: key)))
        }
        let certificate = try #require(made.first)
        #expect(certificate.certificate.epoch == epoch)
        return certificate
    }
}

/// What `authority`'s stakes imply for candidateAccounts: how a node that
/// reloads the same state from storage rebuilds it (Authority.init).
private func rebuiltCandidateAccounts(_ authority: Authority) -> [PublicKey: Set<AccountID>] {
    Authority(committee: authority.committee, accounts: authority.accounts, stakes: authority.stakes).candidateAccounts
}

private func rejection(_ decision: Authority.Decision) -> Rejection? {
    if case .rejected(let rejection) = decision { return rejection }
    return nil
}

// MARK: - Authority: operations

@Suite("epochs: bond, unbond and register on the ledger")
struct EpochOperationTests {
    let fixture = LedgerFixture()

    @Test("bond moves balance to bonded stake, with transfers and fee, and money is conserved")
    func bondMovesBalance() throws {
        var authority = fixture.authority()
        let batch = fixture.operationsBatch(seq: 1, operations: [.bond(400)], transfers: [Transfer(to: fixture.payee.publicKey, amount: 10)], fee: 2)
        #expect(authority.handle(batch) == .vote(batch.id, lockIsNew: true))
        guard case .applied = try authority.apply(batch, fixture.verified(batch)) else { Issue.record("not applied"); return }
        #expect(authority.state(of: fixture.payer.publicKey).balance == Int128(LedgerFixture.funding - 400 - 10 - 2))
        #expect(authority.state(of: fixture.payee.publicKey).balance == 10)
        #expect(authority.stakes[fixture.payer.publicKey]?.bonded == 400)
        #expect(authority.stakes[fixture.payer.publicKey]?.unbonding == 0)
        #expect(authority.feePool == 2)
        #expect(authority.totalMoney == Int128(LedgerFixture.funding))
    }

    @Test("a bond counts in the debit: bonding more than the balance is insufficient-funds")
    func bondBeyondBalance() {
        var authority = fixture.authority()
        let batch = fixture.operationsBatch(seq: 1, operations: [.bond(Amount(LedgerFixture.funding))], transfers: [Transfer(to: fixture.payee.publicKey, amount: 1)])
        #expect(rejection(authority.handle(batch))?.reason == .insufficientFunds)
        #expect(authority.locks.isEmpty)
        let exact = fixture.operationsBatch(seq: 1, operations: [.bond(Amount(LedgerFixture.funding))])
        #expect(authority.handle(exact) == .vote(exact.id, lockIsNew: true))
    }

    @Test("unbonding more than is bonded is insufficient-bond, and takes no lock; exactly what is bonded is fine")
    func unbondBeyondBond() throws {
        var authority = try Authority.genesis(committee: fixture.committee, allocations: [(fixture.payer.publicKey, Amount(LedgerFixture.funding))],
                                              stakes: [fixture.payer.publicKey: Stake(bonded: 100)])
        let tooMuch = fixture.operationsBatch(seq: 1, operations: [.unbond(101)])
        let refusal = rejection(authority.handle(tooMuch))
        #expect(refusal?.reason == .insufficientBond)
        #expect(refusal?.head.nextSeq == 1)
        #expect(authority.locks.isEmpty, "a refused batch took a lock")
        let all = fixture.operationsBatch(seq: 1, operations: [.unbond(100)])
        #expect(authority.handle(all) == .vote(all.id, lockIsNew: true))
    }

    @Test("operations are checked in order: bond then unbond is fine, unbond then bond is insufficient-bond")
    func operationsInOrder() {
        var authority = fixture.authority()
        let bondFirst = fixture.operationsBatch(seq: 1, operations: [.bond(100), .unbond(100)])
        #expect(authority.handle(bondFirst) == .vote(bondFirst.id, lockIsNew: true))
        var fresh = fixture.authority()
        let unbondFirst = fixture.operationsBatch(seq: 1, operations: [.unbond(100), .bond(100)])
        #expect(rejection(fresh.handle(unbondFirst))?.reason == .insufficientBond)
    }

    @Test("registering without the minimum bond is insufficient-bond; a bond earlier in the same batch counts")
    func registerNeedsMinimumBond() throws {
        let rules = EpochRules(minimumBond: 1_000)
        let node = SigningKey()
        var authority = try Authority.genesis(committee: fixture.committee, rules: rules,
                                              allocations: [(fixture.payer.publicKey, Amount(LedgerFixture.funding))],
                                              stakes: [fixture.payer.publicKey: Stake(bonded: 999)])
        let registration = fixture.registration(for: fixture.payer.publicKey, nodeKey: node)
        let short = fixture.operationsBatch(seq: 1, operations: [.register(registration)])
        #expect(rejection(authority.handle(short))?.reason == .insufficientBond)
        #expect(authority.locks.isEmpty)
        let unbonded = fixture.operationsBatch(seq: 1, operations: [.bond(1), .unbond(1), .register(registration)])
        #expect(rejection(authority.handle(unbonded))?.reason == .insufficientBond)
        let enough = fixture.operationsBatch(seq: 1, operations: [.bond(1), .register(registration)])
        #expect(authority.handle(enough) == .vote(enough.id, lockIsNew: true))
    }

    @Test("with nothing bonded a registration is refused under the default minimum bond of 1 unit")
    func registerWithNothingBonded() throws {
        #expect(EpochRules().minimumBond == 1)
        var authority = fixture.authority()
        let registration = fixture.registration(for: fixture.payer.publicKey, nodeKey: SigningKey())
        let batch = fixture.operationsBatch(seq: 1, operations: [.register(registration)])
        #expect(rejection(authority.handle(batch))?.reason == .insufficientBond)
    }

    @Test("registering a node that another account registered is not-authorized; its owner may re-register it")
    func registerOthersNode() throws {
        let node = SigningKey()
        let owner = fixture.payee
        let ownerRegistration = fixture.registration(for: owner.publicKey, nodeKey: node)
        var authority = try Authority.genesis(committee: fixture.committee,
                                              allocations: [(fixture.payer.publicKey, Amount(LedgerFixture.funding))],
                                              stakes: [owner.publicKey: Stake(bonded: 50, candidate: ownerRegistration),
                                                       fixture.payer.publicKey: Stake(bonded: 50)])
        #expect(authority.candidateAccounts[node.publicKey] == [owner.publicKey])
        let stolen = fixture.operationsBatch(seq: 1, operations: [.register(fixture.registration(for: fixture.payer.publicKey, nodeKey: node))])
        #expect(rejection(authority.handle(stolen))?.reason == .notAuthorized)
        #expect(authority.locks.isEmpty)
        let moved = fixture.registration(for: owner.publicKey, nodeKey: node, addresses: ["10.0.0.9:7400"])
        let again = fixture.operationsBatch(seq: 1, operations: [.register(moved)], from: owner)
        #expect(authority.handle(again) == .vote(again.id, lockIsNew: true))
        _ = try authority.apply(again, fixture.verified(again))
        #expect(authority.stakes[owner.publicKey]?.candidate == moved)
        #expect(authority.candidateAccounts[node.publicKey] == [owner.publicKey])
    }

    @Test("an applied registration names the candidate; re-registering another node frees the old one")
    func registrationApplied() throws {
        var authority = try Authority.genesis(committee: fixture.committee, allocations: [(fixture.payer.publicKey, Amount(LedgerFixture.funding))])
        let first = SigningKey(), second = SigningKey()
        let one = fixture.operationsBatch(seq: 1, operations: [.bond(10), .register(fixture.registration(for: fixture.payer.publicKey, nodeKey: first))])
        #expect(authority.handle(one) == .vote(one.id, lockIsNew: true))
        _ = try authority.apply(one, fixture.verified(one))
        #expect(authority.stakes[fixture.payer.publicKey]?.candidate?.node == first.publicKey)
        #expect(authority.candidateAccounts == [first.publicKey: [fixture.payer.publicKey]])
        let two = fixture.operationsBatch(seq: 2, prev: one.id, operations: [.register(fixture.registration(for: fixture.payer.publicKey, nodeKey: second))])
        #expect(authority.handle(two) == .vote(two.id, lockIsNew: true))
        _ = try authority.apply(two, fixture.verified(two))
        #expect(authority.stakes[fixture.payer.publicKey]?.candidate?.node == second.publicKey)
        #expect(authority.candidateAccounts == [second.publicKey: [fixture.payer.publicKey]])
        #expect(rebuiltCandidateAccounts(authority) == authority.candidateAccounts)
        #expect(authority.totalMoney == Int128(LedgerFixture.funding))
    }

    @Test("unbond moves bonded to unbonding, stamped with the certificate's epoch (not the node's), and money is conserved")
    func unbondStampsCertificateEpoch() throws {
        // The node's committee is of epoch 3; the certificates are of epochs 7 and 9.
        var authority = Authority(committee: fixture.committee(epoch: 3),
                                  accounts: [fixture.payer.publicKey: AccountState(balance: Int128(LedgerFixture.funding))],
                                  stakes: [fixture.payer.publicKey: Stake(bonded: 500)])
        let total = authority.totalMoney
        #expect(total == Int128(LedgerFixture.funding + 500))
        let first = fixture.operationsBatch(seq: 1, operations: [.unbond(200)])
        #expect(authority.handle(first) == .vote(first.id, lockIsNew: true))
        guard case .applied = try authority.apply(first, fixture.certificate(first, epoch: 7)) else { Issue.record("not applied"); return }
        var stake = try #require(authority.stakes[fixture.payer.publicKey])
        #expect(stake.bonded == 300)
        #expect(stake.unbonding == 200)
        #expect(stake.unbondedIn == 7)
        #expect(authority.state(of: fixture.payer.publicKey).balance == Int128(LedgerFixture.funding), "unbonded stake is not spendable yet")
        #expect(authority.totalMoney == total)

        let second = fixture.operationsBatch(seq: 2, prev: first.id, operations: [.unbond(100)])
        guard case .applied = try authority.apply(second, fixture.certificate(second, epoch: 9)) else { Issue.record("not applied"); return }
        stake = try #require(authority.stakes[fixture.payer.publicKey])
        #expect(stake.bonded == 200)
        #expect(stake.unbonding == 300)
        #expect(stake.unbondedIn == 9, "the latest unbond's epoch")
        #expect(authority.totalMoney == total)
    }

    @Test("two accounts' registrations of one node, both certified, give the same ledger whichever a node applies first")
    func rivalRegistrationsCommute() throws {
        // Both batches are voted on before either is applied (different
        // accounts, so no lock conflicts), so both get certificates; nodes
        // then apply certificates of different accounts in any order, and
        // "two nodes with the same certificates applied have the same digest"
        // (Authority.stateDigest).
        let node = SigningKey()
        let a = fixture.payer, b = fixture.payee
        let fromA = fixture.operationsBatch(seq: 1, operations: [.register(fixture.registration(for: a.publicKey, nodeKey: node))], from: a)
        let fromB = fixture.operationsBatch(seq: 1, operations: [.register(fixture.registration(for: b.publicKey, nodeKey: node))], from: b)
        func run(_ order: [SignedBatch]) throws -> Authority {
            var authority = try Authority.genesis(committee: fixture.committee, allocations: [(a.publicKey, Amount(LedgerFixture.funding))],
                                                  stakes: [a.publicKey: Stake(bonded: 10), b.publicKey: Stake(bonded: 10)])
            #expect(authority.handle(fromA) == .vote(fromA.id, lockIsNew: true))
            #expect(authority.handle(fromB) == .vote(fromB.id, lockIsNew: true))
            for batch in order { _ = try authority.apply(batch, fixture.verified(batch)) }
            return authority
        }
        let aFirst = try run([fromA, fromB]), bFirst = try run([fromB, fromA])
        #expect(aFirst.candidateAccounts[node.publicKey] == bFirst.candidateAccounts[node.publicKey],
                "the node's owner depends on the order certificates were applied in")
        #expect(aFirst.stakes == bFirst.stakes)
        #expect(aFirst.stateDigest == bFirst.stateDigest)
    }

    @Test("rival registrations of one node certified before either applied: the node is contested, never seated, and a restart sees the same owners")
    func rivalRegistrationsAreContested() throws {
        // Account A has node N1 registered. A and B both register node N2;
        // both batches are voted on before either is applied (different
        // accounts, so no lock conflicts), so both are certified. Both
        // registrations stand (applying must not depend on order): N2 is
        // claimed twice, so the election seats neither; N1 is free again.
        let n1 = SigningKey(), n2 = SigningKey()
        let a = fixture.payer, b = fixture.payee, c = SigningKey()
        var authority = try Authority.genesis(committee: fixture.committee,
                                              allocations: [(a.publicKey, Amount(LedgerFixture.funding))],
                                              stakes: [a.publicKey: Stake(bonded: 10, candidate: fixture.registration(for: a.publicKey, nodeKey: n1)),
                                                       b.publicKey: Stake(bonded: 10), c.publicKey: Stake(bonded: 10)])
        let fromA = fixture.operationsBatch(seq: 1, operations: [.register(fixture.registration(for: a.publicKey, nodeKey: n2))], from: a)
        let fromB = fixture.operationsBatch(seq: 1, operations: [.register(fixture.registration(for: b.publicKey, nodeKey: n2))], from: b)
        #expect(authority.handle(fromA) == .vote(fromA.id, lockIsNew: true))
        #expect(authority.handle(fromB) == .vote(fromB.id, lockIsNew: true))
        _ = try authority.apply(fromB, fixture.verified(fromB))
        _ = try authority.apply(fromA, fixture.verified(fromA))

        #expect(authority.candidateAccounts[n2.publicKey] == [a.publicKey, b.publicKey])
        #expect(authority.candidateAccounts[n1.publicKey] == nil, "A moved to N2, so N1 is nobody's")
        #expect(rebuiltCandidateAccounts(authority) == authority.candidateAccounts,
                "the live owner map differs from the one a restart rebuilds from the same stakes")
        var rules = EpochRules()
        rules.minimumBond = Amount(1)
        let next = Election.nextCommittee(stakes: authority.stakes, current: authority.committee, attested: [n2.publicKey], rules: rules)
        #expect(next == nil, "a contested node must not be seated")

        // A third account may not claim N2 (already claimed), but may take the freed N1.
        let takeN2 = fixture.operationsBatch(seq: 1, operations: [.register(fixture.registration(for: c.publicKey, nodeKey: n2))], from: c)
        #expect(rejection(authority.handle(takeN2))?.reason == .notAuthorized)
        let takeN1 = fixture.operationsBatch(seq: 1, operations: [.register(fixture.registration(for: c.publicKey, nodeKey: n1))], from: c)
        #expect(authority.handle(takeN1) == .vote(takeN1.id, lockIsNew: true))
    }
}

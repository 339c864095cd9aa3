import Testing
import KognitaCore
import KognitaLedger

/// The ledger side of an epoch's end, without a network: seal reports, the
/// cut, the checkpoint two validators build independently, the committee
/// change, carried locks and the release of unbonded stake.
@Suite("epoch handover: seal reports, cut, checkpoint and transitions")
struct EpochHandoverTests {
    let network = try! NetworkID("kognita-epochs")
    let validatorKeys = (0..<4).map { index in try! SigningKey(seed: [UInt8](repeating: UInt8(index + 1), count: 32)) }
    let candidateAccount = try! SigningKey(seed: [UInt8](repeating: 0x40, count: 32))
    let candidateNode = try! SigningKey(seed: [UInt8](repeating: 0x41, count: 32))
    let payer = try! SigningKey(seed: [UInt8](repeating: 0x50, count: 32))
    let rules = EpochRules(epochMillis: 15_000, committeeSize: 16, evidenceEpochs: 1, minimumBond: Amount(10))

    var genesisCommittee: Committee {
        try! Committee(network: network, epoch: 0, validators: validatorKeys.map { Validator(id: $0.publicKey, weight: 100) })
    }

    func genesis() throws -> Authority {
        var stakes: [AccountID: Stake] = [:]
        for key in validatorKeys {
            let registration = Registration.sign(network: network, account: key.publicKey, addresses: ["127.0.0.1:1"], nodeKey: key)
            stakes[key.publicKey] = Stake(bonded: 100, candidate: registration, lastSeated: 0)
        }
        return try Authority.genesis(committee: genesisCommittee, rules: rules,
                                     allocations: [(candidateAccount.publicKey, Amount(1_000)), (payer.publicKey, Amount(1_000))],
                                     stakes: stakes)
    }

    func signed(_ key: SigningKey, seq: UInt64, prev: BatchID, transfers: [Transfer] = [], operations: [Operation] = []) throws -> SignedBatch {
        try SignedBatch.sign(Batch(network: network, seq: seq, prev: prev, created: seq, transfers: transfers, operations: operations), with: key)
    }

    /// A certificate of `committee`'s epoch from real votes of the genesis validators on it.
    func certify(_ batch: SignedBatch, in committee: Committee) throws -> VerifiedCertificate {
        var assembler = CertificateAssembler(committee: committee)
        let voters = validatorKeys.filter { committee.contains($0.publicKey) }
        var made: [VerifiedCertificate] = []
        for key in voters {
            made += assembler.add(try Vote.sign(keys: [BatchKey(batch)], network: network, epoch: committee.epoch, with: key).verify(for: committee))
        }
        return try #require(made.first, "quorum \(committee.quorumWeight) of \(committee.totalWeight) with \(voters.count) voters")
    }

    func report(_ index: Int, _ authority: Authority, touched: [AccountID], attested: [PublicKey] = []) -> SealReport {
        let heads = touched.map { account in
            let state = authority.state(of: account)
            return SealReport.Head(account: account, nextSeq: state.nextSeq, lastFinal: state.lastFinal)
        }
        let locks = authority.locks.map { SealReport.LockEntry(account: $0.key, seq: $0.value.seq, id: $0.value.id) }
        return SealReport.sign(network: network, epoch: authority.committee.epoch, heads: heads, locks: locks,
                               attested: attested, with: validatorKeys[index])
    }

    @Test("a bonded, registered and attested candidate joins the next committee; two validators build the same checkpoint; locks carry over")
    func candidateJoinsAndLocksCarry() throws {
        var ahead = try genesis(), behind = try genesis()
        let supply = ahead.totalMoney

        // The candidate bonds and registers in one version-2 batch, certified in epoch 0.
        let registration = Registration.sign(network: network, account: candidateAccount.publicKey,
                                             addresses: ["127.0.0.1:7100"], nodeKey: candidateNode)
        let join = try signed(candidateAccount, seq: 1, prev: .zero, operations: [.bond(Amount(50)), .register(registration)])
        guard case .vote = ahead.handle(join) else { Issue.record("the join batch was not voted"); return }
        _ = try ahead.apply(join, try certify(join, in: genesisCommittee))
        #expect(ahead.stakes[candidateAccount.publicKey]?.bonded == 50)
        #expect(ahead.totalMoney == supply, "bonding moves money; it must not make or lose any")

        // The payer's batch is locked at validator 0 (this authority) but never certified.
        let locked = try signed(payer, seq: 1, prev: .zero, transfers: [Transfer(to: candidateAccount.publicKey, amount: Amount(5))])
        guard case .vote = ahead.handle(locked) else { Issue.record("the payer's batch was not voted"); return }

        // Validators 0 and 1 attest the candidate node: 200 of 400 is more than a third.
        let reports = [
            report(0, ahead, touched: [candidateAccount.publicKey], attested: [candidateNode.publicKey]),
            report(1, ahead, touched: [candidateAccount.publicKey], attested: [candidateNode.publicKey]),
            report(2, behind, touched: []),
        ]
        for encoded in reports.map({ $0.encoded() }) {
            #expect(try SealReport(decoding: encoded).encoded() == encoded)
        }
        let cut = try EpochCut(reports: reports, committee: genesisCommittee, previouslyCarried: [:])
        #expect(cut.heads[candidateAccount.publicKey]?.nextSeq == 2)
        #expect(cut.carried[payer.publicKey] == CarriedLock(seq: 1, ids: [locked.id]))
        #expect(cut.attested == [candidateNode.publicKey])

        // The validator behind fetches up to the cut, then builds the same checkpoint.
        #expect(behind.distance(to: cut, touched: []).map(\.key) == [candidateAccount.publicKey])
        _ = try behind.apply(join, try certify(join, in: genesisCommittee))
        #expect(behind.distance(to: cut, touched: []).isEmpty)
        let previous = BLAKE2b256.hash([UInt8]("genesis".utf8))
        let built = CheckpointBuilder.build(authority: ahead, cut: cut, previous: previous, timestamp: 15_000)
        let rebuilt = CheckpointBuilder.build(authority: behind, cut: cut, previous: previous, timestamp: 15_000)
        #expect(built.header.digest == rebuilt.header.digest)
        #expect(built.bodies == rebuilt.bodies)
        #expect(built.header.nextCommittee.map(\.id).contains(candidateNode.publicKey))
        #expect(built.header.nextCommittee.count == 5)
        for (kind, bytes) in built.bodies.bytes { #expect(CheckpointBodies.matches(bytes, kind: kind, in: built.header)) }

        // Adopting: the candidate is seated in epoch 1, and the new committee
        // may only finalise the carried batch at the payer's seq 1.
        let next = try built.header.committee()
        behind.enterEpoch(next, carried: cut.carried)
        #expect(StateRoot(behind).root == built.header.stateRoot)
        #expect(behind.stakes[candidateAccount.publicKey]?.lastSeated == 1)
        let rival = try signed(payer, seq: 1, prev: .zero, transfers: [Transfer(to: payer.publicKey, amount: Amount(6))])
        guard case .rejected(let refusal) = behind.handle(rival) else { Issue.record("a rival to a carried lock was voted"); return }
        #expect(refusal.reason == .conflict)
        guard case .vote = behind.handle(locked) else { Issue.record("the carried batch was not voted in the next epoch"); return }
        // Its certificate comes from the new committee's epoch, and the carried lock is done.
        _ = try behind.apply(locked, try certify(locked, in: next))
        #expect(behind.carriedLocks.isEmpty)
        #expect(behind.totalMoney == supply)
    }

    @Test("unbonded stake returns to the balance evidence_epochs after its validator's last seat, not before")
    func unbondedStakeWaitsForTheEvidenceWindow() throws {
        var ledger = try genesis()
        let supply = ledger.totalMoney
        let registration = Registration.sign(network: network, account: candidateAccount.publicKey,
                                             addresses: ["127.0.0.1:7100"], nodeKey: candidateNode)
        let join = try signed(candidateAccount, seq: 1, prev: .zero, operations: [.bond(Amount(50)), .register(registration)])
        _ = try ledger.apply(join, try certify(join, in: ledger.committee))
        // Seated for epoch 1 (attested by everyone).
        ledger.enterEpoch(ledger.nextCommittee(attested: [candidateNode.publicKey]), carried: [:])
        #expect(ledger.committee.contains(candidateNode.publicKey))

        // Unbonds everything in epoch 1; it is not seated in epoch 2.
        let leave = try signed(candidateAccount, seq: 2, prev: join.id, operations: [.unbond(Amount(50))])
        _ = try ledger.apply(leave, try certify(leave, in: ledger.committee))
        #expect(ledger.stakes[candidateAccount.publicKey]?.unbonding == 50)
        #expect(ledger.stakes[candidateAccount.publicKey]?.unbondedIn == 1)
        ledger.enterEpoch(ledger.nextCommittee(attested: [candidateNode.publicKey]), carried: [:])
        #expect(!ledger.committee.contains(candidateNode.publicKey), "a candidate with nothing bonded must not be seated")
        // K = 1: released when the epoch reaches max(unbonded_in, last_seated) + K + 1 = 3.
        #expect(ledger.stakes[candidateAccount.publicKey]?.unbonding == 50)
        let before = ledger.state(of: candidateAccount.publicKey).balance
        ledger.enterEpoch(ledger.nextCommittee(attested: []), carried: [:])
        #expect(ledger.committee.epoch == 3)
        #expect(ledger.stakes[candidateAccount.publicKey]?.unbonding ?? 0 == 0)
        #expect(ledger.state(of: candidateAccount.publicKey).balance == before + 50)
        #expect(ledger.totalMoney == supply)
    }

    @Test("entering an epoch gives the same ledger whether a certificate from after the cut was applied before or after it (a late unbond next to stake due for release, a re-registration of a seated node)")
    func transitionsCommuteWithLateCertificates() throws {
        var ledger = try genesis()
        let registration = Registration.sign(network: network, account: candidateAccount.publicKey,
                                             addresses: ["127.0.0.1:7100"], nodeKey: candidateNode)
        let join = try signed(candidateAccount, seq: 1, prev: .zero, operations: [.bond(Amount(60)), .register(registration)])
        _ = try ledger.apply(join, try certify(join, in: ledger.committee))
        ledger.enterEpoch(ledger.nextCommittee(attested: [candidateNode.publicKey]), carried: [:])   // epoch 1, seated
        let leave = try signed(candidateAccount, seq: 2, prev: join.id, operations: [.unbond(Amount(20))])
        _ = try ledger.apply(leave, try certify(leave, in: ledger.committee))
        ledger.enterEpoch(ledger.nextCommittee(attested: [candidateNode.publicKey]), carried: [:])   // epoch 2, seated
        ledger.enterEpoch(ledger.nextCommittee(attested: [candidateNode.publicKey]), carried: [:])   // epoch 3, seated
        #expect(ledger.committee.epoch == 3)

        // At epoch 3's cut: the checkpoint seats the candidate in epoch 4, so its 20 unbonding wait.
        // Build the checkpoint, then a late certificate of epoch 3 (it formed after the seal
        // reports) unbonds 10 more and moves the candidate to another node.
        let otherNode = try SigningKey(seed: [UInt8](repeating: 0x42, count: 32))
        let next = ledger.nextCommittee(attested: [candidateNode.publicKey])
        let transitions = ledger.transitions(into: next)
        #expect(transitions.entries.contains { $0.account == candidateAccount.publicKey && $0.seated })
        #expect(try EpochTransitions(decoding: transitions.encoded()) == transitions)
        let moved = Registration.sign(network: network, account: candidateAccount.publicKey, addresses: ["127.0.0.1:7200"], nodeKey: otherNode)
        let late = try signed(candidateAccount, seq: 3, prev: leave.id, operations: [.unbond(Amount(10)), .register(moved)])
        let lateCertificate = try certify(late, in: ledger.committee)

        var first = ledger, second = ledger
        first.enterEpoch(next, carried: [:], transitions: transitions)
        _ = try first.apply(late, lateCertificate)
        _ = try second.apply(late, lateCertificate)
        second.enterEpoch(next, carried: [:], transitions: transitions)
        #expect(StateRoot(first).root == StateRoot(second).root)
        #expect(first.stakes == second.stakes)
        #expect(first.stakes[candidateAccount.publicKey]?.lastSeated == 4)
        #expect(first.totalMoney == second.totalMoney)
    }

    @Test("a cut needs reports of more than 2/3 of the weight, each signed by a member, one per validator")
    func cutRefusesBadReportSets() throws {
        let ledger = try genesis()
        let good = (0..<3).map { report($0, ledger, touched: []) }
        #expect(throws: LedgerError.self) { try EpochCut(reports: Array(good.prefix(2)), committee: genesisCommittee, previouslyCarried: [:]) }
        #expect(throws: LedgerError.self) { try EpochCut(reports: good + [good[0]], committee: genesisCommittee, previouslyCarried: [:]) }
        let outsider = SealReport.sign(network: network, epoch: 0, heads: [], locks: [], attested: [], with: payer)
        #expect(throws: LedgerError.self) { try EpochCut(reports: Array(good.prefix(2)) + [outsider], committee: genesisCommittee, previouslyCarried: [:]) }
        let wrongEpoch = SealReport.sign(network: network, epoch: 1, heads: [], locks: [], attested: [], with: validatorKeys[3])
        #expect(throws: LedgerError.self) { try EpochCut(reports: Array(good.prefix(2)) + [wrongEpoch], committee: genesisCommittee, previouslyCarried: [:]) }
        let forged = SealReport(network: network, epoch: 0, validator: validatorKeys[3].publicKey, heads: [], locks: [],
                                attested: [candidateNode.publicKey], signature: good[0].signature)
        #expect(throws: LedgerError.self) { try EpochCut(reports: Array(good.prefix(2)) + [forged], committee: genesisCommittee, previouslyCarried: [:]) }
        #expect(throws: Never.self) { try EpochCut(reports: good, committee: genesisCommittee, previouslyCarried: [:]) }
    }
}

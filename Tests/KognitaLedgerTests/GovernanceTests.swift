import Testing
import KognitaCore
import KognitaLedger
import KognitaTesting

private let dummySignature = try! Signature(bytes: [UInt8](repeating: 0, count: 64))
private func node(_ byte: UInt8) -> PublicKey { PublicKey(try! Bytes32([UInt8](repeating: byte, count: 32))) }
private func stake(_ node: PublicKey, bonded: UInt64 = 1_000_000, sat: Bool = true) -> Stake {
    Stake(bonded: bonded, candidate: Registration(node: node, addresses: ["10.0.0.1:7400"], nodeSignature: dummySignature),
          lastSeated: sat ? 0 : nil)
}

@Suite("Governance rules: ratings, measures, elections, rewards")
struct GovernanceRuleTests {
    @Test("ratings: one bad epoch in a window is forgiven, a steady 10% miss is not, penalties outweigh gains")
    func ratingRule() {
        #expect(GovernanceRules.rating(window: []) == GovernanceRules.probation)
        #expect(GovernanceRules.rating(window: [0]) == 1000, "a first epoch cut off is forgiven")
        #expect(GovernanceRules.rating(window: [1000, 1000, 0, 1000, 1000, 1000, 1000, 1000, 1000, 1000]) == 1000)
        // 10% of votes missed: the measure is 9 x 900 + 1000 over 10 = 910.
        let lazy = GovernanceRules.measure(votes: 900, reported: true)
        #expect(lazy == 910)
        #expect(GovernanceRules.rating(window: [lazy, lazy]) == 640)
        #expect(GovernanceRules.rating(window: [lazy, lazy]) < GovernanceRules.electable)
        // Two outages in a window are not both forgiven.
        #expect(GovernanceRules.rating(window: [1000, 0, 1000, 0]) < GovernanceRules.electable)
        // Penalty: a 10% miss (beyond the forgiven worst) costs 4x as much rating.
        #expect(GovernanceRules.rating(window: [1000, 1000, 900]) == 1000, "the worst epoch is forgiven")
        #expect(GovernanceRules.rating(window: [1000, 900, 900]) == 1000 - 4 * 50)
        // No report and no votes: zero.
        #expect(GovernanceRules.measure(votes: 0, reported: false) == 0)
        #expect(GovernanceRules.measure(votes: nil, reported: true) == 1000)
    }

    @Test("a fee splits into the named bridge's share, the burn and the pool, and adds up exactly")
    func feeSplit() {
        let split = GovernanceRules.split(fee: 1000, hasBridge: true)
        #expect(split.bridge == 150 && split.burned == 150 && split.pool == 700)
        let unnamed = GovernanceRules.split(fee: 1000, hasBridge: false)
        #expect(unnamed.bridge == 0 && unnamed.burned == 150 && unnamed.pool == 850)
        for fee in [0, 1, 7, 999, UInt64.max] as [UInt64] {
            let s = GovernanceRules.split(fee: fee, hasBridge: true)
            #expect(UInt128(s.bridge) + UInt128(s.burned) + UInt128(s.pool) == UInt128(fee))
        }
    }

    @Test("the rating book: a window slides while seated, a voted-out record stands a window long then is forgotten, slashing sticks")
    func ratingBook() throws {
        let network = try NetworkID("kognita-test")
        let members = (1...4).map { node($0) }
        func committee(_ epoch: UInt64, _ nodes: [PublicKey]) throws -> Committee {
            try Committee(network: network, epoch: epoch, validators: nodes.map { Validator(id: $0, weight: 1) })
        }
        var book = RatingBook()
        for epoch in 0..<2 as Range<UInt64> {
            book = book.advanced(committee: try committee(epoch, members), measures: [members[0]: 1000, members[1]: 730, members[2]: 1000, members[3]: 1000], slashed: [])
        }
        #expect(book.rating(of: members[0]) == 1000)
        #expect(book.rating(of: members[1]) < GovernanceRules.electable)
        // Off the committee, the poor record stands...
        let rest = [members[0], members[2], members[3], node(9)]
        for epoch in 2..<11 as Range<UInt64> {
            book = book.advanced(committee: try committee(epoch, rest), measures: Dictionary(uniqueKeysWithValues: rest.map { ($0, 1000) }), slashed: [])
            #expect(book.rating(of: members[1]) < GovernanceRules.electable, "epoch \(epoch)")
        }
        // ...until its latest measure is a window old: then it is a newcomer again.
        book = book.advanced(committee: try committee(11, rest), measures: nil, slashed: [])
        #expect(book.rating(of: members[1]) == GovernanceRules.probation)
        // A failed epoch changes no measure.
        let before = book.records[members[0]]
        book = book.advanced(committee: try committee(12, rest), measures: nil, slashed: [members[2]])
        #expect(book.records[members[0]]?.window == before?.window.filter { $0.epoch + 10 > 12 })
        #expect(book.isSlashed(members[2]) && book.rating(of: members[2]) == 0)
        // The body round-trips and checks each rating against its window.
        let body = RatingsBody(epoch: 12, measures: [members[0]: 1000], book: book)
        #expect(try RatingsBody(decoding: body.encoded()) == body)
    }

    @Test("ratings and rewards bodies are decoded strictly")
    func strictBodies() throws {
        let book = RatingBook(records: [node(1): .init(window: [.init(epoch: 3, measure: 900)])])
        let good = RatingsBody(epoch: 3, measures: [node(1): 900], book: book).encoded()
        #expect(try RatingsBody(decoding: good).book == book)
        #expect(throws: LedgerError.self) { try RatingsBody(decoding: good + [0]) }
        // A rating that is not the one its window gives (a single entry is forgiven: 1000, not 999).
        var bad = CBORWriter(reservingCapacity: 128)
        bad.writeArrayHeader(3); bad.writeUnsigned(3); bad.writeArrayHeader(0); bad.writeArrayHeader(1)
        bad.writeArrayHeader(4); bad.writeBytes(node(1).rawValue); bad.writeUnsigned(999); bad.writeUnsigned(0)
        bad.writeArrayHeader(1); bad.writeArrayHeader(2); bad.writeUnsigned(3); bad.writeUnsigned(900)
        #expect(throws: LedgerError.self) { try RatingsBody(decoding: bad.bytes) }
        let rewards = EpochRewards(epoch: 2, payouts: [.init(node: node(2), account: node(5), amount: 10), .init(node: node(1), account: node(6), amount: 5)])
        #expect(rewards.payouts.map(\.node) == [node(1), node(2)])
        #expect(try EpochRewards(decoding: rewards.encoded()) == rewards)
        var w = CBORWriter(reservingCapacity: 128)
        w.writeArrayHeader(2); w.writeUnsigned(2); w.writeArrayHeader(1)
        w.writeArrayHeader(3); w.writeBytes(node(1).rawValue); w.writeBytes(node(2).rawValue); w.writeUnsigned(0)
        #expect(throws: LedgerError.self) { try EpochRewards(decoding: w.bytes) }
    }

    @Test("rewards: the pool by weight x measure, to each node's account, never more than the pool")
    func rewards() throws {
        let network = try NetworkID("kognita-test")
        let committee = try Committee(network: network, epoch: 5, validators: [
            Validator(id: node(1), weight: 3), Validator(id: node(2), weight: 1), Validator(id: node(3), weight: 1), Validator(id: node(4), weight: 1),
        ])
        let accounts = [node(1): node(11), node(2): node(12), node(3): node(13)]
        let rewards = EpochRewards.compute(pool: 1_000, committee: committee, measures: [node(1): 1000, node(2): 1000, node(3): 500, node(4): 1000],
                                           accounts: accounts)
        // Parts 3000, 1000, 500, 1000 of 5500.
        #expect(rewards.payouts.map(\.amount) == [545, 181, 90])
        #expect(rewards.payouts.map(\.account) == [node(11), node(12), node(13)], "node 4 has no account: its share stays in the pool")
        #expect(rewards.total <= 1_000)
        #expect(EpochRewards.compute(pool: 0, committee: committee, measures: nil, accounts: accounts).payouts.isEmpty)
    }

    @Test("election: poorly rated and slashed nodes are not elected, a newcomer gets the lottery seat, the committee never shrinks below four")
    func election() throws {
        let network = try NetworkID("kognita-test")
        let incumbents = (1...5).map { node($0) }
        let current = try Committee(network: network, epoch: 3, validators: incumbents.map { Validator(id: $0, weight: 1) })
        var stakes: [AccountID: Stake] = [:]
        for member in incumbents { stakes[member] = stake(member) }
        // Six outsiders, one never seated (the newcomer), with less stake.
        let outsiders = (20...25).map { node($0) }
        for (index, outsider) in outsiders.enumerated() { stakes[outsider] = stake(outsider, bonded: 500_000, sat: index != 3) }
        let proven = Dictionary(uniqueKeysWithValues: (incumbents + outsiders).map { ($0, RatingBook.Record(window: [.init(epoch: 3, measure: 1000)])) })
        var records = proven
        records[incumbents[1]] = .init(window: [.init(epoch: 2, measure: 730), .init(epoch: 3, measure: 730)])
        records[incumbents[2]] = .init(window: [.init(epoch: 3, measure: 1000)], slashed: true)
        records[outsiders[3]] = nil
        let rules = EpochRules(committeeSize: 5)
        let next = try #require(Election.nextCommittee(stakes: stakes, current: current, attested: Set(outsiders), rules: rules,
                                                       ratings: RatingBook(records: records), seed: BLAKE2b256.hash([1])))
        let seated = Set(next.validators.map(\.id))
        #expect(!seated.contains(incumbents[1]), "rated below electable")
        #expect(!seated.contains(incumbents[2]), "slashed")
        #expect(seated.contains(outsiders[3]), "one seat in five goes by lottery, and the newcomer draws first")
        #expect(seated.count == 5)
        // With almost nobody electable, poorly rated members keep their seats up to four.
        var poor = records
        for member in incumbents.dropFirst(1) { poor[member] = .init(window: [.init(epoch: 2, measure: 0), .init(epoch: 3, measure: 0)]) }
        let kept = try #require(Election.nextCommittee(stakes: stakes.filter { incumbents.contains($0.key) }, current: current, attested: [],
                                                       rules: rules, ratings: RatingBook(records: poor), seed: .zero))
        #expect(kept.validators.count == 4)
        #expect(kept.validators.contains { $0.id == incumbents[0] })
    }
}

@Suite("Inclusion: measures from the votes reporters sampled")
struct InclusionTests {
    @Test("a validator's measure is the median share of sampled batches with its valid vote; forged votes and a colluding minority change nothing")
    func measures() throws {
        let fixture = LedgerFixture()
        let keys = fixture.validatorKeys
        let committee = fixture.committee
        let batches = (0..<8).map { BatchKey(account: fixture.payer.publicKey, id: BatchID(BLAKE2b256.hash([UInt8($0)]))) }
        // Validator 3 votes for half the batches only; the others for all.
        let votes = keys.enumerated().map { index, key in
            Vote.signVerified(keys: index == 3 ? Array(batches.prefix(4)) : batches, committee: committee, with: key)!
        }
        func report(_ reporter: Int, omitting omitted: Int? = nil, forging forged: Int? = nil) -> SealReport {
            let samples = batches.map { batch in
                InclusionSample(batch: batch, signers: votes.enumerated().compactMap { index, vote in
                    guard index != omitted, var signer = vote.signer(for: batch) else { return nil }
                    if index == forged {
                        signer = Certificate.Signer(validator: signer.validator, count: signer.count, index: signer.index, path: signer.path, signature: dummySignature)
                    }
                    return signer
                })
            }
            return SealReport.sign(network: fixture.network, epoch: 0, heads: [], locks: [], attested: [], samples: samples, with: keys[reporter])
        }
        let honest = try #require(Inclusion.measures(reports: (0..<4).map { report($0) }, committee: committee))
        #expect(honest[keys[0].publicKey] == 1000)
        #expect(honest[keys[3].publicKey] == (9 * 500 + 1000) / 10)
        // One reporter of four leaves validator 1's votes out: the median does not move.
        let colluding = try #require(Inclusion.measures(reports: [report(0), report(1), report(2, omitting: 1), report(3)], committee: committee))
        #expect(colluding[keys[1].publicKey] == 1000)
        // Votes with a bad signature count for nothing.
        let forged = try #require(Inclusion.measures(reports: [report(0, forging: 2), report(1, forging: 2), report(3, forging: 2)], committee: committee))
        #expect(forged[keys[2].publicKey] == 0, "its votes were forged in every report and its own report is missing")
        // A report with no samples says nothing: with none at all, the epoch is not measured.
        let empty = (0..<4).map { SealReport.sign(network: fixture.network, epoch: 0, heads: [], locks: [], attested: [], with: keys[$0]) }
        #expect(Inclusion.measures(reports: empty, committee: committee) == nil)
        // Entering the epoch took repeated view changes at most reporters: nobody is rated.
        let stalled = (0..<4).map { index in
            SealReport.sign(network: fixture.network, epoch: 0, heads: [], locks: [], attested: [], samples: report(index).samples,
                            previousRound: index == 0 ? 0 : 2, with: keys[index])
        }
        #expect(Inclusion.measures(reports: stalled, committee: committee) == nil)
        let oneSlow = (0..<4).map { index in
            SealReport.sign(network: fixture.network, epoch: 0, heads: [], locks: [], attested: [], samples: report(index).samples,
                            previousRound: index == 0 ? 3 : 0, with: keys[index])
        }
        #expect(Inclusion.measures(reports: oneSlow, committee: committee) != nil, "one reporter's view changes are not the network's")
        #expect(try SealReport(decoding: stalled[1].encoded()).previousRound == 2)
        // The samples survive the report's encoding and signature.
        let decoded = try SealReport(decoding: report(0).encoded())
        #expect(decoded.isSigned && decoded.samples == report(0).samples)
    }

    @Test("the sampler keeps the votes of final batches only, bounded, and reports the lowest priorities")
    func sampler() throws {
        let fixture = LedgerFixture()
        var sampler = InclusionSampler(network: fixture.network, epoch: 0, key: fixture.validatorKeys[0], capacity: 8)
        let batches = (0..<100).map { BatchKey(account: fixture.payer.publicKey, id: BatchID(BLAKE2b256.hash([UInt8($0)]))) }
        for key in fixture.validatorKeys {
            sampler.observe(Vote.signVerified(keys: batches, committee: fixture.committee, with: key)!)
        }
        #expect(sampler.samples().isEmpty, "nothing is final yet")
        for batch in batches { sampler.markFinal(batch) }
        let samples = sampler.samples(limit: 5)
        #expect(samples.count == 5)
        #expect(samples.allSatisfy { $0.signers.count == 4 })
        // Another validator's sampler picks other batches (its key is the secret).
        var other = InclusionSampler(network: fixture.network, epoch: 0, key: fixture.validatorKeys[1], capacity: 8)
        for key in fixture.validatorKeys { other.observe(Vote.signVerified(keys: batches, committee: fixture.committee, with: key)!) }
        for batch in batches { other.markFinal(batch) }
        #expect(Set(other.samples(limit: 5).map(\.batch)) != Set(samples.map(\.batch)))
    }
}

@Suite("Fees in the ledger: bridges paid from the batches that name them, the burn, money conserved")
struct FeeLedgerTests {
    @Test("a version-3 batch pays its named bridge at once; a batch that names none pays no bridge; money is conserved with the burn")
    func bridgePay() throws {
        let fixture = LedgerFixture()
        var authority = fixture.authority()
        let supply = authority.totalMoney
        let bridge = SigningKey().publicKey
        let named = Batch(network: fixture.network, seq: 1, created: 1, fee: Amount(1000), transfers: [Transfer(to: fixture.payee.publicKey, amount: Amount(10))], via: bridge)
        #expect(named.version == 3)
        let signed = try SignedBatch.sign(named, with: fixture.payer)
        #expect(try SignedBatch.verify(signed.envelope, expectedNetwork: fixture.network).batch.via == bridge)
        _ = try authority.apply(signed, try fixture.verified(signed))
        #expect(authority.state(of: bridge).balance == 150)
        #expect(authority.burned == Amount(150))
        #expect(authority.feePool == Amount(700))
        // A forged delivery claim: the next batch names no bridge; whoever forwards it earns nothing.
        let plain = fixture.batch(seq: 2, prev: signed.id, fee: 1000)
        _ = try authority.apply(plain, try fixture.verified(plain))
        #expect(authority.state(of: bridge).balance == 150)
        #expect(authority.burned == Amount(300))
        #expect(authority.feePool == Amount(1550))
        #expect(authority.totalMoney == supply)
        #expect(authority.circulating == supply - 300)
    }

    @Test("a node behind a checkpoint's cut releases unbonding stake it has not unbonded yet, and ends with the same ledger once the unbond applies")
    func releaseBehindTheCut() throws {
        let fixture = LedgerFixture()
        var atCut = fixture.authority()
        var behind = fixture.authority()
        func signed(_ seq: UInt64, _ prev: BatchID, _ operation: Operation) throws -> SignedBatch {
            try SignedBatch.sign(Batch(network: fixture.network, seq: seq, prev: prev, created: 1, transfers: [], operations: [operation]), with: fixture.payer)
        }
        let bond = try signed(1, .zero, .bond(Amount(5_000)))
        let unbond = try signed(2, bond.id, .unbond(Amount(5_000)))
        for batch in [bond, unbond] { _ = try atCut.apply(batch, try fixture.verified(batch)) }
        _ = try behind.apply(bond, try fixture.verified(bond))
        // Long after the unbond, a checkpoint (built at the cut) releases it.
        let next = try Committee(network: fixture.network, epoch: 9, validators: fixture.committee.validators)
        let transitions = atCut.transitions(into: next)
        #expect(transitions.entries.first { $0.account == fixture.payer.publicKey }?.released == 5_000)
        atCut.enterEpoch(next, carried: [:], transitions: transitions)
        behind.enterEpoch(next, carried: [:], transitions: transitions)
        #expect(behind.unbondingDebt[fixture.payer.publicKey] == 5_000)
        // The unbond arrives: it repays the debt, and the ledgers agree.
        _ = try behind.apply(unbond, try fixture.verified(unbond))
        #expect(behind.unbondingDebt.isEmpty)
        #expect(behind.stakes == atCut.stakes)
        #expect(behind.state(of: fixture.payer.publicKey) == atCut.state(of: fixture.payer.publicKey))
        #expect(behind.stateDigest == atCut.stateDigest)
        #expect(behind.totalMoney == atCut.totalMoney)
    }

    @Test("a node behind a checkpoint's cut pays its rewards out of a pool it does not hold yet, and ends with the same ledger once it catches up")
    func payoutsBehindTheCut() throws {
        let fixture = LedgerFixture()
        var atCut = fixture.authority()
        var behind = fixture.authority()
        let first = fixture.batch(seq: 1, fee: 1000)
        let second = fixture.batch(seq: 2, prev: first.id, fee: 1000)
        for batch in [first, second] { _ = try atCut.apply(batch, try fixture.verified(batch)) }
        _ = try behind.apply(first, try fixture.verified(first))
        // The checkpoint (built at the cut: both batches) pays the whole pool.
        let owner = SigningKey().publicKey
        let rewards = EpochRewards(epoch: 0, payouts: [.init(node: fixture.validatorKeys[0].publicKey, account: owner, amount: atCut.feePool.baseUnits)])
        let next = try Committee(network: fixture.network, epoch: 1, validators: fixture.committee.validators)
        atCut.enterEpoch(next, carried: [:], transitions: EpochTransitions(epoch: 1, entries: []), rewards: rewards)
        behind.enterEpoch(next, carried: [:], transitions: EpochTransitions(epoch: 1, entries: []), rewards: rewards)
        #expect(behind.feePoolDebt > 0)
        #expect(behind.feePool == .zero)
        // The missing batch arrives: the debt is repaid from its fee, and the ledgers agree.
        _ = try behind.apply(second, try fixture.verified(second))
        #expect(behind.feePoolDebt == 0)
        #expect(behind.feePool == atCut.feePool)
        #expect(behind.stateDigest == atCut.stateDigest)
        #expect(behind.totalMoney == atCut.totalMoney)
    }
}

@Suite("Equivocation proofs")
struct EquivocationProofTests {
    /// Two batches of the payer at seq 1 and validator `voter`'s votes for each (in `epochs`).
    static func proof(_ fixture: LedgerFixture, voter: Int = 1, secondVoter: Int? = nil, secondSeq: UInt64 = 1,
                      epochs: (UInt64, UInt64) = (0, 0), sameBatch: Bool = false) throws -> EquivocationProof {
        let first = fixture.batch(seq: 1, amounts: [10])
        let second = sameBatch ? first : fixture.batch(seq: secondSeq, amounts: [20])
        func evidence(_ batch: SignedBatch, _ epoch: UInt64, _ voter: Int) throws -> EquivocationProof.Evidence {
            let other = BatchKey(account: fixture.payee.publicKey, id: BatchID(BLAKE2b256.hash([9])))
            let vote = Vote.sign(keys: [other, BatchKey(batch)], network: fixture.network, epoch: epoch, with: fixture.validatorKeys[voter])
            let verified = try vote.verify(for: try Committee(network: fixture.network, epoch: epoch, validators: fixture.committee.validators))
            return .init(epoch: epoch, envelope: batch.envelope, vote: try #require(verified.signer(for: BatchKey(batch))))
        }
        return EquivocationProof(network: fixture.network, try evidence(first, epochs.0, voter), try evidence(second, epochs.1, secondVoter ?? voter))
    }

    static func committees(_ fixture: LedgerFixture) -> (UInt64) -> Committee? {
        { epoch in try? Committee(network: fixture.network, epoch: epoch, validators: fixture.committee.validators) }
    }

    @Test("two votes by one validator for two batches at one (account, seq), in any epochs, prove equivocation; the proof round-trips in one canonical order")
    func valid() throws {
        let fixture = LedgerFixture()
        let proof = try Self.proof(fixture, epochs: (3, 5))
        try proof.verify(committees: Self.committees(fixture))
        #expect(proof.offender == fixture.validatorKeys[1].publicKey)
        #expect(proof.latestEpoch == 5)
        #expect(try EquivocationProof(decoding: proof.encoded()) == proof)
        let swapped = EquivocationProof(network: fixture.network, proof.votes[1], proof.votes[0])
        #expect(swapped == proof, "one encoding whatever order the votes came in")
    }

    @Test("a proof with a bad signature, two seqs, one batch, two validators, or an epoch where the validator did not sit is refused with the reason")
    func refused() throws {
        let fixture = LedgerFixture()
        let committees = Self.committees(fixture)
        func reason(_ proof: EquivocationProof, _ committees: (UInt64) -> Committee?) -> String {
            do throws(LedgerError) { try proof.verify(committees: committees); return "accepted" } catch { return error.message }
        }
        #expect(reason(try Self.proof(fixture, secondSeq: 2), committees).contains("not one seq"))
        #expect(reason(try Self.proof(fixture, sameBatch: true), committees).contains("same batch"))
        #expect(reason(try Self.proof(fixture, secondVoter: 2), committees).contains("two validators"))
        let good = try Self.proof(fixture)
        let forged = Certificate.Signer(validator: good.votes[1].vote.validator, count: good.votes[1].vote.count, index: good.votes[1].vote.index,
                                        path: good.votes[1].vote.path, signature: try Signature(bytes: [UInt8](repeating: 7, count: 64)))
        let badSignature = EquivocationProof(network: fixture.network, good.votes[0], .init(epoch: 0, envelope: good.votes[1].envelope, vote: forged))
        #expect(reason(badSignature, committees).contains("does not verify"))
        let outsider = try Committee(network: fixture.network, epoch: 0, validators: [Validator(id: SigningKey().publicKey, weight: 1)])
        #expect(reason(good, { _ in outsider }).contains("did not sit"))
        #expect(throws: LedgerError.self) { try EquivocationProof(decoding: good.encoded() + [0]) }
    }

    @Test("a checkpoint that admits a proof slashes half the offender's stake into the burn, rates it 0 for good and leaves it off the committee; money stays conserved")
    func slashing() throws {
        let fixture = LedgerFixture()
        let nodes = fixture.validatorKeys.map(\.publicKey)
        var stakes: [AccountID: Stake] = [:]
        for node in nodes + [SigningKey().publicKey] {
            stakes[node] = Stake(bonded: 1_000, candidate: Registration(node: node, addresses: ["10.0.0.1:7400"], nodeSignature: dummySignature), lastSeated: 0)
        }
        let fifth = stakes.keys.first { !nodes.contains($0) }!
        var authority = Authority(committee: fixture.committee, accounts: [:], stakes: stakes)
        let supply = authority.totalMoney
        let proof = try Self.proof(fixture)
        let report = SealReport.sign(network: fixture.network, epoch: 0, heads: [], locks: [], attested: [fifth], evidence: [proof], with: fixture.validatorKeys[0])
        let governance = authority.governance(reports: [report], committees: Self.committees(fixture))
        #expect(governance.slashes.slashes == [.init(node: nodes[1], account: nodes[1], amount: 500)])
        #expect(governance.ratings.book.isSlashed(nodes[1]))
        let next = Election.nextCommittee(stakes: authority.stakes, current: authority.committee, attested: [fifth], rules: authority.rules,
                                          ratings: governance.ratings.book)!
        #expect(!next.contains(nodes[1]))
        #expect(next.validators.count == 4)
        authority.enterEpoch(next, carried: [:], transitions: authority.transitions(into: next), rewards: governance.rewards,
                             ratings: governance.ratings.book, slashes: governance.slashes.slashes)
        #expect(authority.stakes[nodes[1]]?.bonded == 500)
        #expect(authority.burned == Amount(500))
        #expect(authority.totalMoney == supply)
        // Slashed once: the same proof again admits nothing.
        let again = SealReport.sign(network: fixture.network, epoch: 1, heads: [], locks: [], attested: [], evidence: [proof], with: fixture.validatorKeys[0])
        #expect(authority.governance(reports: [again], committees: Self.committees(fixture)).slashes.slashes.isEmpty)
        // The body round-trips.
        #expect(try SlashesBody(decoding: governance.slashes.encoded()) == governance.slashes)
    }
}

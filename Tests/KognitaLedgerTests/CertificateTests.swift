import Testing
import KognitaCore
import KognitaLedger
import KognitaTesting

@Suite("ledger authority: certificates")
struct CertificateTests {
    let fixture = LedgerFixture()

    @Test("a validator's own vote, signed as verified, is exactly the vote its peers verify; a non-member gets none")
    func ownVoteSignedVerified() throws {
        let keys = [BatchKey(fixture.batch(seq: 1)), BatchKey(fixture.batch(seq: 2)), BatchKey(fixture.batch(seq: 3))]
        let own = try #require(Vote.signVerified(keys: keys, committee: fixture.committee, with: fixture.validatorKeys[2]))
        let checked = try own.vote.verify(for: fixture.committee)
        #expect(own.vote == Vote.sign(keys: keys, network: fixture.network, epoch: 0, with: fixture.validatorKeys[2]))
        #expect(own.weight == checked.weight)
        for key in keys { #expect(own.signer(for: key) == checked.signer(for: key)) }
        #expect(Vote.signVerified(keys: keys, committee: fixture.committee, with: SigningKey()) == nil)
    }

    @Test("a quorum of votes (3 of 4) forms a certificate that verifies and survives encoding")
    func quorumCertifies() throws {
        let batch = fixture.batch(seq: 1)
        let certificate = try fixture.certificate(for: BatchKey(batch), voters: [0, 2, 3], alsoVotingFor: (0..<40).map { BatchKey(account: fixture.payee.publicKey, id: BatchID(BLAKE2b256.hash([UInt8($0)]))) })
        _ = try certificate.verify(for: fixture.committee)
        let decoded = try Certificate(decoding: certificate.encoded())
        #expect(decoded == certificate)
        _ = try decoded.verify(for: fixture.committee)
    }

    @Test("a certificate with too little weight is refused")
    func tooLittleWeight() throws {
        let batch = fixture.batch(seq: 1)
        let certificate = try fixture.certificate(for: BatchKey(batch), voters: [0, 1])
        #expect(throws: LedgerError.self) { try certificate.verify(for: fixture.committee) }
    }

    @Test("a forged vote is refused: a signer outside the committee, or a signature that does not verify")
    func forgedVote() throws {
        let batch = fixture.batch(seq: 1)
        let outsider = SigningKey()
        let vote = Vote.sign(keys: [BatchKey(batch)], network: fixture.network, epoch: 0, with: outsider)
        #expect(throws: LedgerError.self) { try vote.verify(for: fixture.committee) }

        let genuine = try fixture.certificate(for: BatchKey(batch), voters: [0, 1, 2])
        var signers = genuine.signers
        var bytes = signers[1].signature.bytes
        bytes[7] ^= 1
        signers[1] = .init(validator: signers[1].validator, count: signers[1].count, index: signers[1].index,
                           path: signers[1].path, signature: try Signature(bytes: bytes))
        let forged = Certificate(batch: BatchKey(batch), network: fixture.network, epoch: 0, signers: signers)
        #expect(throws: LedgerError.self) { try forged.verify(for: fixture.committee) }
    }

    @Test("a certificate carried over to another batch id is refused")
    func certificateForAnotherBatch() throws {
        let batch = fixture.batch(seq: 1), other = fixture.batch(seq: 1, amounts: [99])
        let genuine = try fixture.certificate(for: BatchKey(batch), voters: [0, 1, 2])
        let moved = Certificate(batch: BatchKey(other), network: fixture.network, epoch: 0, signers: genuine.signers)
        #expect(throws: LedgerError.self) { try moved.verify(for: fixture.committee) }
        var authority = fixture.authority()
        #expect(throws: LedgerError.self) { try authority.apply(other, genuine.verify(for: fixture.committee)) }
    }

    @Test("the same validator counted twice does not make a quorum")
    func duplicateSigner() throws {
        let batch = fixture.batch(seq: 1)
        let genuine = try fixture.certificate(for: BatchKey(batch), voters: [0, 1])
        let padded = Certificate(batch: BatchKey(batch), network: fixture.network, epoch: 0, signers: genuine.signers + [genuine.signers[0]])
        #expect(throws: LedgerError.self) { try padded.verify(for: fixture.committee) }
    }

    @Test("a certificate of another epoch or network is refused")
    func wrongEpochOrNetwork() throws {
        let batch = fixture.batch(seq: 1)
        let certificate = try fixture.certificate(for: BatchKey(batch), voters: [0, 1, 2])
        let nextEpoch = try Committee(network: fixture.network, epoch: 1, validators: fixture.committee.validators)
        #expect(throws: LedgerError.self) { try certificate.verify(for: nextEpoch) }
        let otherNetwork = try Committee(network: try NetworkID("other"), epoch: 0, validators: fixture.committee.validators)
        #expect(throws: LedgerError.self) { try certificate.verify(for: otherNetwork) }
    }

    @Test("a lying validator that votes for two batches at one seq never yields two certificates")
    func equivocationCannotCertifyTwice() throws {
        // Validators 0-2 are honest authorities; 3 signs anything.
        var honest = (0..<3).map { _ in fixture.authority() }
        let a = fixture.batch(seq: 1, amounts: [10]), b = fixture.batch(seq: 1, amounts: [20])
        var assembler = CertificateAssembler(committee: fixture.committee)
        var certified: [VerifiedCertificate] = []
        // A reaches validators 0 and 1 first, B reaches 2 first; each then sees the other too.
        for (index, order) in [[a, b], [a, b], [b, a]].enumerated() {
            for batch in order {
                if case .vote = honest[index].handle(batch) {
                    let vote = Vote.sign(keys: [BatchKey(batch)], network: fixture.network, epoch: 0, with: fixture.validatorKeys[index])
                    certified += assembler.add(try vote.verify(for: fixture.committee))
                }
            }
        }
        for key in [BatchKey(a), BatchKey(b)] {
            let lie = Vote.sign(keys: [key], network: fixture.network, epoch: 0, with: fixture.validatorKeys[3])
            certified += assembler.add(try lie.verify(for: fixture.committee))
        }
        #expect(certified.map(\.batch) == [BatchKey(a)])
    }

    @Test("Merkle paths: every leaf of trees of 1 to 70 leaves proves its root, and nothing else does")
    func merklePaths() {
        for count in 1...70 {
            let ids = (0..<count).map { BatchKey(account: fixture.payer.publicKey, id: BatchID(BLAKE2b256.hash([UInt8($0), UInt8(count)]))) }
            let tree = MerkleTree(ids)
            for index in 0..<count {
                let path = tree.path(for: index)
                #expect(MerkleTree.root(of: ids[index], index: index, count: count, path: path) == tree.root)
                if count > 1 {
                    #expect(MerkleTree.root(of: ids[index], index: (index + 1) % count, count: count, path: path) != tree.root)
                    #expect(MerkleTree.root(of: ids[(index + 1) % count], index: index, count: count, path: path) != tree.root)
                    #expect(MerkleTree.root(of: ids[index], index: index, count: count, path: path + [tree.root]) == nil)
                }
            }
        }
    }

    @Test("certificate decoding refuses junk, trailing bytes and signers out of order")
    func strictDecoding() throws {
        let batch = fixture.batch(seq: 1)
        let bytes = try fixture.certificate(for: BatchKey(batch), voters: [0, 1, 2]).encoded()
        #expect(throws: LedgerError.self) { try Certificate(decoding: bytes + [0]) }
        #expect(throws: LedgerError.self) { try Certificate(decoding: Array(bytes.dropLast())) }
        #expect(throws: LedgerError.self) { try Certificate(decoding: [0xA0]) }
        for length in stride(from: 0, to: bytes.count, by: 7) {
            _ = try? Certificate(decoding: Array(bytes.prefix(length))) // must not crash
        }
    }
}

@Suite("ledger authority: batch identity")
struct BatchIdentityTests {
    let fixture = LedgerFixture()

    @Test("two accounts signing byte-identical payloads share a batch id, but a certificate for one never applies to the other")
    func identicalPayloadsOfTwoAccounts() throws {
        let twin = SigningKey()
        var authority = try Authority.genesis(committee: fixture.committee, allocations: [
            (fixture.payer.publicKey, Amount(LedgerFixture.funding)), (twin.publicKey, Amount(LedgerFixture.funding)),
        ])
        let mine = fixture.batch(seq: 1), theirs = fixture.batch(seq: 1, from: twin)
        #expect(mine.id == theirs.id, "the contract's id hashes the payload only")
        let certificate = try fixture.verified(mine)
        #expect(throws: LedgerError.self) { try authority.apply(theirs, certificate) }
        #expect(authority.state(of: twin.publicKey).nextSeq == 1)
        _ = try authority.apply(mine, certificate)
        #expect(authority.state(of: fixture.payer.publicKey).nextSeq == 2)
    }
}

import Benchmark
import KognitaCore
import KognitaLedger

/// The authority alone, with 64-transfer batches as meters send them:
/// voting (checks and locks), vote signing and checking, certificate checking
/// and applying. 1,000 accounts, one batch each per round.
private struct Round {
    static let accounts = 1000
    let network = try! NetworkID("kognita-bench")
    let validatorKeys = (0..<4).map { i in try! SigningKey(seed: [UInt8](repeating: UInt8(100 + i), count: 32)) }
    let committee: Committee
    let genesis: Authority
    let batches: [SignedBatch]
    let certificates: [VerifiedCertificate]
    let encodedCertificates: [[UInt8]]
    let votes: [Vote]

    init() {
        let network = self.network
        let committee = try! Committee(network: network, epoch: 0, validators: validatorKeys.map { Validator(id: $0.publicKey, weight: 1) })
        self.committee = committee
        let payers = (0..<Self.accounts).map { i in try! SigningKey(seed: [UInt8(i & 0xff), UInt8(i >> 8)] + [UInt8](repeating: 1, count: 30)) }
        let recipients = (0..<8).map { i in try! AccountID(bytes: [UInt8](repeating: UInt8(0x10 + i), count: 32)) }
        genesis = try! Authority.genesis(committee: committee, allocations: payers.map { ($0.publicKey, Amount(1_000_000_000)) })
        let batches = payers.map { payer in
            let transfers = (0..<64).map { i in
                Transfer(to: recipients[i % 8], amount: Amount(UInt64(100 + i)), sensor: "meter-\(i % 4)",
                         reading: 1_234_000 + Int64(i) * 750, at: 1_767_225_600_000 + UInt64(i) * 1000)
            }
            return try! SignedBatch.sign(Batch(network: network, seq: 1, created: 1_767_225_664_000, fee: 10, transfers: transfers), with: payer)
        }
        self.batches = batches
        // Votes as validators send them: one signature per 250 batch ids.
        let ids = batches.map(BatchKey.init)
        var votes: [Vote] = []
        var assembler = CertificateAssembler(committee: committee)
        var made: [BatchKey: Certificate] = [:]
        for key in validatorKeys.prefix(3) {
            for start in stride(from: 0, to: ids.count, by: 250) {
                let vote = Vote.sign(keys: Array(ids[start..<min(start + 250, ids.count)]), network: network, epoch: 0, with: key)
                votes.append(vote)
                for certificate in assembler.add(try! vote.verify(for: committee)) { made[certificate.batch] = certificate.certificate }
            }
        }
        self.votes = votes
        certificates = batches.map { try! made[BatchKey($0)]!.verify(for: committee) }
        encodedCertificates = certificates.map { $0.certificate.encoded() }
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .throughput],
        warmupIterations: 2,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 10_000)
    let round = Round()

    // Each iteration is one round of the 1,000 accounts (scaling .kilo), on a
    // fresh copy of the genesis ledger (the copy is made before measuring).
    Benchmark("Authority: vote (check and lock) a 64-transfer batch") { benchmark in
        var authority = round.genesis
        _ = authority.handle(round.batches[0]) // makes the copy
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations { blackHole(authority.handle(round.batches[i % Round.accounts])) }
    }

    Benchmark("Authority: apply a certified 64-transfer batch") { benchmark in
        var authority = round.genesis
        _ = authority.handle(round.batches[0])
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations { blackHole(try! authority.apply(round.batches[i % Round.accounts], round.certificates[i % Round.accounts])) }
    }

    Benchmark("Certificate: decode and verify (3 signers, votes of 250 ids)") { benchmark in
        for i in benchmark.scaledIterations {
            blackHole(try! Certificate(decoding: round.encodedCertificates[i % Round.accounts]).verify(for: round.committee))
        }
    }

    Benchmark("Vote: sign over 250 batch ids", configuration: .init(scalingFactor: .one)) { benchmark in
        let ids = Array(round.batches.prefix(250).map(BatchKey.init))
        for _ in benchmark.scaledIterations { blackHole(Vote.sign(keys: ids, network: round.network, epoch: 0, with: round.validatorKeys[0])) }
    }

    Benchmark("Vote: verify over 250 batch ids", configuration: .init(scalingFactor: .one)) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try! round.votes[0].verify(for: round.committee)) }
    }

    // Epochs (docs/EPOCHS.md): what a new node does to trust the committee,
    // and what every validator does at each epoch's end.
    let chain = HeaderChain(length: 1_000, validators: 16)
    Benchmark("Checkpoints: verify a chain of 1,000 headers, 16 validators, from genesis", configuration: .init(scalingFactor: .one)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! CheckpointChain.verify(chain.checkpoints, genesisDigest: chain.genesisDigest, genesisCommittee: chain.committee))
        }
    }

    Benchmark("Checkpoints: build the checkpoint of 1,000 accounts (cut, state root, bodies)", configuration: .init(scalingFactor: .one)) { benchmark in
        var authority = round.genesis
        for (batch, certificate) in zip(round.batches, round.certificates) { _ = try! authority.apply(batch, certificate) }
        let heads = round.batches.map { batch in
            SealReport.Head(account: batch.signer, nextSeq: 2, lastFinal: batch.id)
        }
        let reports = round.validatorKeys.prefix(3).map { key in
            SealReport.sign(network: round.network, epoch: 0, heads: heads, locks: [], attested: [], with: key)
        }
        let cut = try! EpochCut(reports: reports, committee: round.committee, previouslyCarried: [:])
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(CheckpointBuilder.build(authority: authority, cut: cut, previous: BLAKE2b256.hash([0]), timestamp: 1_800_000_000_000))
        }
    }
}

/// A chain of signed checkpoints, each signed by the 11 of 16 validators
/// that make a quorum (the committee stays the same).
private struct HeaderChain {
    let committee: Committee
    let genesisDigest = BLAKE2b256.hash(Array("bench genesis".utf8))
    let checkpoints: [SignedCheckpoint]

    init(length: Int, validators: Int) {
        let network = try! NetworkID("kognita-bench")
        let keys = (0..<validators).map { i in try! SigningKey(seed: [UInt8](repeating: UInt8(200 + i), count: 32)) }
        let members = keys.map { Validator(id: $0.publicKey, weight: 1_000) }.sorted { $0.id < $1.id }
        committee = try! Committee(network: network, epoch: 0, validators: members)
        var previous = genesisDigest
        var made: [SignedCheckpoint] = []
        for epoch in 0..<UInt64(length) {
            let header = CheckpointHeader(network: network, epoch: epoch, previous: previous, timestamp: 1_800_000_000_000 + epoch * 3_600_000,
                                          stateRoot: BLAKE2b256.hash(Array("root \(epoch)".utf8)),
                                          bodies: [.init(kind: 1, root: BLAKE2b256.hash([UInt8(epoch & 0xff)]))], nextCommittee: members)
            let signatures = keys.prefix(validators * 2 / 3 + 1).map { key in
                SignedCheckpoint.CommitSignature(validator: key.publicKey, signature: key.signature(
                    for: SignedCheckpoint.commitBytes(network: network, epoch: epoch, round: 0, digest: header.digest)))
            }.sorted { $0.validator < $1.validator }
            made.append(SignedCheckpoint(header: header, round: 0, signatures: signatures))
            previous = header.digest
        }
        checkpoints = made
    }
}

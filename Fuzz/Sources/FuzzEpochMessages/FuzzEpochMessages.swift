import CFuzzerDriver
import KognitaCore
import KognitaLedger
#if canImport(Glibc)
import Glibc
#endif

/// The executable's entry point: with `KOGNITA_FUZZ_SEEDS=DIR` it first writes
/// valid, signed samples of every epoch message into DIR (the corpus seeds),
/// then runs libFuzzer.
@_cdecl("FuzzEpochMessages_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    if let directory = getenv("KOGNITA_FUZZ_SEEDS") { EpochSamples.write(to: String(cString: directory)) }
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return fuzzEpochMessages(UnsafePointer(bitPattern: 1)!, 0) }
        return fuzzEpochMessages(data, size)
    }
}

/// libFuzzer entry point: the decoders of every epoch message a node takes
/// from peers (seal reports, proposals, checkpoint votes, signed checkpoints
/// and header chains, the bodies it adopts). None may crash; what one
/// accepts must re-encode to exactly its input; checking signatures and
/// chains of accepted values must not crash either.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEpochMessages(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let committee = EpochSamples.committee

    if let report = try? SealReport(decoding: bytes) {
        precondition(report.encoded() == bytes, "accepted seal report is not canonical")
        // Sampled votes in a report: checking them must not crash.
        _ = Inclusion.measures(reports: [report], committee: committee)
        _ = report.isSigned
        _ = try? EpochCut(reports: [report], committee: committee, previouslyCarried: [:])
    }
    if let proposal = try? CheckpointProposal(decoding: bytes) {
        precondition(proposal.encoded() == bytes, "accepted proposal is not canonical")
        _ = proposal.isSigned
        var agreement = CheckpointAgreement(committee: committee, key: nil)
        _ = agreement.handle(.proposal(proposal, valid: true))
    }
    if let vote = try? CheckpointVote(decoding: bytes) {
        precondition(vote.encoded() == bytes, "accepted checkpoint vote is not canonical")
        var agreement = CheckpointAgreement(committee: committee, key: nil)
        _ = agreement.handle(.vote(vote))
    }
    if let header = try? CheckpointHeader(decoding: bytes) {
        precondition(header.encoded() == bytes, "accepted header is not canonical")
        _ = try? header.committee()
    }
    if let checkpoint = try? SignedCheckpoint(decoding: bytes) {
        precondition(checkpoint.encoded() == bytes, "accepted signed checkpoint is not canonical")
        _ = try? checkpoint.verify(for: committee)
        _ = try? CheckpointChain.verify([checkpoint], genesisDigest: EpochSamples.genesisDigest, genesisCommittee: committee)
    }
    if let transitions = try? EpochTransitions(decoding: bytes) {
        precondition(transitions.encoded() == bytes, "accepted transitions are not canonical")
    }
    if let ratings = try? RatingsBody(decoding: bytes) {
        precondition(ratings.encoded() == bytes, "accepted ratings body is not canonical")
        _ = Election.nextCommittee(stakes: [:], current: committee, attested: [], rules: EpochRules(), ratings: ratings.book)
    }
    if let rewards = try? EpochRewards(decoding: bytes) {
        precondition(rewards.encoded() == bytes, "accepted rewards body is not canonical")
    }
    if let proof = try? EquivocationProof(decoding: bytes) {
        precondition(proof.encoded() == bytes, "accepted equivocation proof is not canonical")
        _ = try? proof.verify { epoch in epoch == 0 ? committee : nil }
    }
    if let slashes = try? SlashesBody(decoding: bytes) {
        precondition(slashes.encoded() == bytes, "accepted slashes body is not canonical")
    }
    _ = try? CheckpointBodies.fees(decoding: bytes)
    _ = try? CheckpointBodies.carriedLocks(decoding: bytes)
    _ = try? CheckpointBodies.cutHeads(decoding: bytes)
    _ = try? CheckpointBodies.peerRecords(decoding: bytes)
    // A header chain as a catching-up node gets it: a CBOR array of signed checkpoints.
    if var reader = try? CBORReader(bytes, limits: CBORLimits(maxInputSize: 1 << 20, maxDepth: 8)),
       let count = try? reader.readArrayHeader(maxCount: 64) {
        var chain: [SignedCheckpoint] = []
        for _ in 0..<count {
            guard let item = try? reader.readByteString(), let checkpoint = try? SignedCheckpoint(decoding: item) else { break }
            chain.append(checkpoint)
        }
        _ = try? CheckpointChain.verify(chain, genesisDigest: EpochSamples.genesisDigest, genesisCommittee: committee)
    }
    return 0
}

/// Valid samples of each message, signed by a fixed committee of four.
enum EpochSamples {
    static let network = try! NetworkID("kognita-fuzz")
    static let keys = (1...4).map { try! SigningKey(seed: [UInt8](repeating: UInt8($0), count: 32)) }
    static let committee = try! Committee(network: network, epoch: 0, validators: keys.map { Validator(id: $0.publicKey, weight: 1) })
    static let genesisDigest = BLAKE2b256.hash(Array("kognita-fuzz genesis".utf8))

    static func samples() -> [(String, [UInt8])] {
        let account: AccountID = keys[0].publicKey
        let report = SealReport.sign(network: network, epoch: 0,
                                     heads: [SealReport.Head(account: account, nextSeq: 3, lastFinal: BatchID(BLAKE2b256.hash([1])))],
                                     locks: [SealReport.LockEntry(account: keys[1].publicKey, seq: 1, id: BatchID(BLAKE2b256.hash([2])))],
                                     attested: [keys[2].publicKey], with: keys[0])
        let header = CheckpointHeader(network: network, epoch: 0, previous: genesisDigest, timestamp: 1_800_000_000_000,
                                      stateRoot: BLAKE2b256.hash([3]), bodies: [.init(kind: 1, root: BLAKE2b256.hash([4]))],
                                      nextCommittee: committee.validators)
        let proposal = CheckpointProposal.sign(header: header, round: 0, validRound: nil, with: keys[0])
        let vote = CheckpointVote.sign(.precommit, network: network, epoch: 0, round: 0, digest: header.digest, with: keys[1])
        let nilVote = CheckpointVote.sign(.prevote, network: network, epoch: 0, round: 2, digest: nil, with: keys[2])
        let signatures = keys.prefix(3).map { key in
            SignedCheckpoint.CommitSignature(validator: key.publicKey, signature: key.signature(
                for: SignedCheckpoint.commitBytes(network: network, epoch: 0, round: 0, digest: header.digest)))
        }.sorted { $0.validator < $1.validator }
        let checkpoint = SignedCheckpoint(header: header, round: 0, signatures: signatures)
        let transitions = EpochTransitions(epoch: 1, entries: [.init(account: account, released: 10, seated: true)])
        // A report with sampled votes: a real vote of validator 2 for two batches.
        let keysVoted = [BatchKey(account: account, id: BatchID(BLAKE2b256.hash([5]))), BatchKey(account: account, id: BatchID(BLAKE2b256.hash([6])))]
        let sampledVote = Vote.signVerified(keys: keysVoted, committee: committee, with: keys[1])!
        let sampled = SealReport.sign(network: network, epoch: 0, heads: [], locks: [], attested: [],
                                      samples: keysVoted.map { InclusionSample(batch: $0, signers: [sampledVote.signer(for: $0)!]) }, with: keys[0])
        let book = RatingBook().advanced(committee: committee, measures: [keys[0].publicKey: 1000, keys[1].publicKey: 730], slashed: [keys[3].publicKey])
        let ratings = RatingsBody(epoch: 0, measures: [keys[0].publicKey: 1000, keys[1].publicKey: 730], book: book)
        let rewards = EpochRewards(epoch: 0, payouts: [.init(node: keys[0].publicKey, account: account, amount: 70)])
        // An equivocation proof: validator 2 votes for two batches of one device at seq 1.
        let device = keys[3]
        func evidence(_ amount: UInt64) -> EquivocationProof.Evidence {
            let batch = try! SignedBatch.sign(Batch(network: network, seq: 1, created: 1, transfers: [Transfer(to: account, amount: Amount(amount))]), with: device)
            let vote = Vote.signVerified(keys: [BatchKey(batch)], committee: committee, with: keys[1])!
            return .init(epoch: 0, envelope: batch.envelope, vote: vote.signer(for: BatchKey(batch))!)
        }
        let proof = EquivocationProof(network: network, evidence(1), evidence(2))
        let slashes = SlashesBody(proofs: [proof], slashes: [.init(node: keys[1].publicKey, account: keys[1].publicKey, amount: 500)])
        var chain = CBORWriter(reservingCapacity: 2048)
        chain.writeArrayHeader(1)
        chain.writeBytes(checkpoint.encoded())
        return [("seal-report", report.encoded()), ("proposal", proposal.encoded()), ("precommit", vote.encoded()),
                ("nil-prevote", nilVote.encoded()), ("header", header.encoded()), ("signed-checkpoint", checkpoint.encoded()),
                ("transitions", transitions.encoded()), ("chain", chain.bytes), ("sampled-seal-report", sampled.encoded()),
                ("ratings", ratings.encoded()), ("rewards", rewards.encoded()), ("equivocation-proof", proof.encoded()),
                ("slashes", slashes.encoded())]
    }

    static func write(to directory: String) {
        for (name, bytes) in samples() {
            guard let file = fopen("\(directory)/seed-\(name)", "wb") else { continue }
            _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            fclose(file)
        }
    }
}

import Foundation
import KognitaCore
import KognitaLedger
import KognitaNode
import KognitaSystem
import KognitaTesting
import Testing

/// Epochs on four real `kognita-node` processes with two-second epochs,
/// while a device keeps paying: checkpoints keep coming, the leader of a
/// round is killed with SIGKILL as its epoch ends and the next leader
/// finishes, and the killed validator comes back three epochs later and
/// catches up with the chain and the ledger.
@Suite("Epochs on real nodes: checkpoints under load, the leader killed mid-round, a validator back after three epochs", .serialized)
struct EpochProcessTests {
    static let rules = EpochRules(epochMillis: 2_000)

    /// Pays from `payer` one batch at a time, trying the nodes in turn (a
    /// node may be down), and records every batch answered `final`.
    final class Payer: @unchecked Sendable {
        let lock = NSLock()
        var finals: [(seq: UInt64, id: String)] = []
        var lastFinal: (seq: UInt64, id: String)? { lock.withLock { finals.last } }
        var count: Int { lock.withLock { finals.count } }
        func record(_ seq: UInt64, _ id: String) { lock.withLock { finals.append((seq, id)) } }
    }

    func pay(_ net: LocalNetwork, from key: SigningKey, to recipient: AccountID, payer: Payer) async {
        var seq: UInt64 = 1, prev = BatchID.zero, node = 0
        while !Task.isCancelled {
            guard let batch = try? SignedBatch.sign(Batch(network: try NetworkID(net.network), seq: seq, prev: prev, created: 1_767_225_600_000 + seq,
                                                          transfers: [Transfer(to: recipient, amount: Amount(10), sensor: "meter", reading: Int64(seq))]),
                                                    with: key) else { return }
            // The same batch until it is final: to one node after another.
            while !Task.isCancelled {
                if let answer = try? await net.api(node % net.size).submit(batch.envelope, waitFinal: true, timeout: .seconds(8)),
                   answer.ack.status == "final" {
                    payer.record(seq, batch.id.rawValue.hex)
                    break
                }
                node += 1
                try? await Task.sleep(for: .milliseconds(50))
            }
            seq += 1
            prev = batch.id
            try? await Task.sleep(for: .milliseconds(60))
        }
    }

    func waitUntil(_ what: String, within seconds: Double, _ condition: () async -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("not within \(seconds) s: \(what)")
    }

    func epoch(_ net: LocalNetwork, _ index: Int) async -> UInt64? { try? await net.status(index).epoch }

    /// The signed checkpoints 0..<count as node `index` serves them.
    func chain(_ net: LocalNetwork, _ index: Int, count: UInt64) async throws -> [SignedCheckpoint] {
        var result: [SignedCheckpoint] = []
        for epoch in 0..<count {
            result.append(try #require(try await net.api(index).signedCheckpoint(epoch), "node \(index) has no checkpoint \(epoch)"))
        }
        return result
    }

    @Test("checkpoints every epoch under payments; the next leader finishes a round whose leader was SIGKILLed; the validator returns after three epochs and holds the same chain and ledger")
    func checkpointsSurviveLeaderLossAndReturn() async throws {
        try await LocalNetwork.with(rules: Self.rules) { net in
            let genesis = try Node.loadGenesis(net.genesisPath)
            let genesisCommittee = try genesis.committee()
            let identities = try (0..<net.size).map { try net.identity($0).publicKey }
            let alice = SigningKey(), bob = SigningKey()
            try await net.fund(alice.publicKey, 1_000_000)
            let payer = Payer()
            let payments = Task { await pay(net, from: alice, to: bob.publicKey, payer: payer) }
            defer { payments.cancel() }

            // Checkpoints come on every node while payments go on.
            try await waitUntil("every node in epoch 2", within: 30) {
                for index in 0..<net.size where (await epoch(net, index) ?? 0) < 2 { return false }
                return true
            }

            // The leader of round 0 of the next epoch is killed as that epoch ends.
            let target = (await epoch(net, 0) ?? 0) + 1
            // The current committee (named by the last checkpoint); with no stake moving, the next is the same.
            let current = try #require(try await net.api(0).signedCheckpoint(target - 2)).header.committee()
            let next = try Committee(network: current.network, epoch: target, validators: current.validators)
            let leader = CheckpointAgreement(committee: next, key: nil).leader(of: 0)
            let victim = try #require(identities.firstIndex(of: leader))
            let watcher = (victim + 1) % net.size
            let survivors = (0..<net.size).filter { $0 != victim }
            try await waitUntil("epoch \(target) about to end", within: 20) {
                guard let status = try? await net.status(watcher), status.epoch == target,
                      let endsIn = status.epochState?.endsInMillis else { return false }
                return endsIn > 100 && endsIn < 800
            }
            _ = net.stop(victim, signal: SIGKILL)
            #expect(!net.isRunning(victim))
            try await waitUntil("the survivors decide checkpoint \(target) without its round-0 leader", within: 30) {
                for index in survivors where (await epoch(net, index) ?? 0) <= target { return false }
                return true
            }
            let decided = try #require(try await net.api(watcher).checkpoint(target))
            #expect(decided.round >= 1, "the round-0 leader was dead, so a later round's leader must have proposed")
            #expect(!decided.signers.contains(leader.hex))

            // It stays down for three more epochs while payments go on, then comes back.
            let paidWhileUp = payer.count
            try await waitUntil("three more epochs without it", within: 40) {
                for index in survivors where (await epoch(net, index) ?? 0) <= target + 3 { return false }
                return true
            }
            #expect(payer.count > paidWhileUp, "payments must go on with three of four validators")
            try net.start(victim)
            try await net.waitUntilReady(victim, within: 60)
            try await waitUntil("the returned validator signs a checkpoint again", within: 40) {
                guard let latest = try? await net.api(watcher).checkpoint(nil) else { return false }
                return latest.signers.contains(leader.hex)
            }

            // Payments stop; every node holds the same chain, verified from genesis, and the same ledger.
            payments.cancel()
            _ = await payments.value
            try await net.waitForIdenticalLedgers(within: 30)
            var epochs: [UInt64] = []
            for index in 0..<net.size { epochs.append(await epoch(net, index) ?? 0) }
            let common = try #require(epochs.min())
            let reference = try await chain(net, watcher, count: common)
            _ = try CheckpointChain.verify(reference, genesisDigest: genesis.digest, genesisCommittee: genesisCommittee)
            for index in 0..<net.size {
                // The same headers; the commit signatures each node gathered may differ (any quorum of precommits decides).
                let theirs = try await chain(net, index, count: common)
                #expect(theirs.map(\.header) == reference.map(\.header), "node \(index) holds another chain")
                _ = try CheckpointChain.verify(theirs, genesisDigest: genesis.digest, genesisCommittee: genesisCommittee)
                let status = try await net.status(index)
                #expect(status.ledger.totalMoney == status.ledger.supply, "node \(index) does not conserve money")
            }
            // Every payment answered final is final everywhere.
            let last = try #require(payer.lastFinal)
            for index in 0..<net.size {
                let head = try await net.account(index, alice.publicKey)
                #expect(head.nextSeq >= last.seq + 1)
                let final = try await net.api(index).finalBatch(last.id)
                #expect(final != nil, "node \(index) lacks the last batch a device was told is final")
            }
        }
    }

    @Test("a Byzantine validator (the real peer protocol, in this process) withholds a certificate across the handover: the new epoch refuses a rival at that seq, and the certificate it releases later makes the batch final everywhere")
    func withheldCertificateSurvivesTheHandover() async throws {
        try await LocalNetwork.with(start: false, rules: EpochRules(epochMillis: 4_000)) { net in
            for index in 0..<3 { try net.start(index) }
            // Validator 4 is Byzantine: it keeps the votes it receives, votes only when it chooses, and speaks to whom it likes.
            let byzantineKey = try net.identity(3)
            let genesis = try Node.loadGenesis(net.genesisPath)
            let committee = try genesis.committee()
            let withholder = Withholder()
            let targets = genesis.validators.filter { $0.id > byzantineKey.publicKey }
                .map { DialTarget(identity: $0.id, address: PeerAddress($0.address)!) }
            let peers = PeerNetwork(
                listen: PeerAddress("127.0.0.1:\(net.basePort + 4)")!,
                identity: PeerIdentity(key: byzantineKey, role: .validator,
                                       policy: HandshakePolicy(network: genesis.network, genesis: genesis.digest, committee: committee)),
                targets: targets, handler: withholder, logger: .init(label: "withholder"))
            let peersTask = Task { try await peers.run() }
            defer { peersTask.cancel() }
            for index in 0..<3 { try await net.waitUntilReady(index) }
            try await waitUntil("the withholder connected to the three honest validators", within: 10) { withholder.links.count == 3 }
            let honest = try (0..<3).map { try net.identity($0).publicKey }

            let alice = SigningKey(), bob = SigningKey(), carol = SigningKey()
            try await net.fund(alice.publicKey, 10_000)
            // Start right after a checkpoint, so the whole scenario fits one epoch.
            let startEpoch = await epoch(net, 0) ?? 0
            try await waitUntil("a fresh epoch", within: 15) { (await epoch(net, 0) ?? 0) > startEpoch }
            let epochOfX = try #require(await epoch(net, 0))

            // The device's batch X reaches validators 1 and 2 only (through the withholder, as if it were
            // the device's node); they vote, and only the withholder gathers a quorum: theirs and its own.
            let head = try await net.account(0, alice.publicKey)
            let prev = try BatchID(hex: head.lastFinal)
            let x = try SignedBatch.sign(Batch(network: genesis.network, seq: head.nextSeq, prev: prev, created: 1_767_225_600_001,
                                               transfers: [Transfer(to: bob.publicKey, amount: Amount(100))]), with: alice)
            for link in withholder.links where link.identity == honest[0] || link.identity == honest[1] {
                link.send(.forward(envelope: x.envelope))
            }
            let ownVote = Vote.sign(keys: [BatchKey(x)], network: genesis.network, epoch: epochOfX, with: byzantineKey)
            try await waitUntil("the withholder holds a certificate for X", within: 5) {
                withholder.certificate(for: BatchKey(x), committee: committee, adding: ownVote) != nil
            }
            #expect(try await net.api(2).finalBatch(x.id.rawValue.hex) == nil)
            #expect(try await net.api(0).finalBatch(x.id.rawValue.hex) == nil, "only the withholder may hold X's certificate")

            // The epoch ends and the three honest validators decide its checkpoint without the withholder.
            try await waitUntil("the checkpoint of epoch \(epochOfX)", within: 30) {
                for index in 0..<3 where (await epoch(net, index) ?? 0) <= epochOfX { return false }
                return true
            }
            // Validator 3 never saw X, yet the carried lock binds it: a rival at X's seq is refused in the new epoch.
            let rival = try SignedBatch.sign(Batch(network: genesis.network, seq: head.nextSeq, prev: prev, created: 1_767_225_600_002,
                                                   transfers: [Transfer(to: carol.publicKey, amount: Amount(100))]), with: alice)
            let (_, rivalAnswer) = try await net.submit(2, rival, waitFinal: true)
            #expect(rivalAnswer.status == "rejected" && rivalAnswer.error == "conflict", "\(rivalAnswer)")

            // The withholder releases its vote of the old epoch: X's certificate of that epoch forms on every
            // honest node and X becomes final there, in the new epoch.
            withholder.broadcast(.vote(ownVote))
            try await waitUntil("X final on all three honest nodes", within: 30) {
                for index in 0..<3 where (try? await net.api(index).finalBatch(x.id.rawValue.hex)) == nil { return false }
                return true
            }
            for index in 0..<3 {
                #expect(try await net.api(index).finalBatch(rival.id.rawValue.hex) == nil, "the rival became final on node \(index)")
                #expect(try await net.account(index, bob.publicKey).balance == 100)
                #expect(try await net.account(index, carol.publicKey).balance == 0)
            }
            // The device's resend of X is answered final.
            let (_, resend) = try await net.submit(1, x, waitFinal: true)
            #expect(resend.status == "final")
            try await net.waitForIdenticalLedgers([0, 1, 2])
        }
    }
}

extension EpochProcessTests {
    /// The value of a Prometheus counter in `/metrics` text (0 when absent).
    func counter(_ text: String, _ name: String) -> Double {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }

    @Test("bad epoch input is refused and counted and only the offender's message is dropped: a seal report from outside the committee, a checkpoint signed by outsiders, a vote for an epoch no checkpoint leads to; unbonding more than is bonded and registering without the bond are refused with insufficient-bond")
    func badEpochInputIsRefusedAndCounted() async throws {
        try await LocalNetwork.with { net in
            let genesis = try Node.loadGenesis(net.genesisPath)
            // An outsider connects as a full node and speaks the real protocol.
            let outsider = SigningKey()
            let handler = Withholder()
            let peers = PeerNetwork(
                listen: PeerAddress("127.0.0.1:\(try FreePort.find())")!,
                identity: PeerIdentity(key: outsider, role: .fullNode,
                                       policy: HandshakePolicy(network: genesis.network, genesis: genesis.digest, committee: try genesis.committee())),
                targets: [DialTarget(identity: try net.identity(0).publicKey, address: PeerAddress(genesis.validators[0].address)!)],
                handler: handler, logger: .init(label: "outsider"))
            let peersTask = Task { try await peers.run() }
            defer { peersTask.cancel() }
            try await waitUntil("the outsider connected", within: 10) { handler.links.count == 1 }
            let link = try #require(handler.links.first)

            let before = try await net.client(0).request(.GET, "/metrics").text
            // A seal report signed by a key outside the committee.
            link.send(.sealReport(SealReport.sign(network: genesis.network, epoch: 0, heads: [], locks: [], attested: [], with: outsider)))
            // A checkpoint of the current epoch signed by outsiders.
            let strangers = (0..<4).map { _ in SigningKey() }
            let header = CheckpointHeader(network: genesis.network, epoch: 0, previous: genesis.digest, timestamp: WallClockForTests.now(),
                                          stateRoot: .zero, bodies: [], nextCommittee: strangers.map { Validator(id: $0.publicKey, weight: 1) }.sorted { $0.id < $1.id })
            let signatures = strangers.map { key in
                SignedCheckpoint.CommitSignature(validator: key.publicKey, signature: key.signature(
                    for: SignedCheckpoint.commitBytes(network: genesis.network, epoch: 0, round: 0, digest: header.digest)))
            }.sorted { $0.validator < $1.validator }
            link.send(.checkpoint(LedgerStore.StoredCheckpoint(signed: SignedCheckpoint(header: header, round: 0, signatures: signatures), bodies: [:])))
            // A batch vote of an epoch far ahead, signed by the outsider itself.
            link.send(.vote(Vote.sign(keys: [BatchKey(account: outsider.publicKey, id: BatchID(BLAKE2b256.hash([1])))],
                                      network: genesis.network, epoch: 99, with: outsider)))

            try await waitUntil("the refusals are counted", within: 10) {
                guard let after = try? await net.client(0).request(.GET, "/metrics").text else { return false }
                return counter(after, "kognita_epoch_messages_refused_total") >= counter(before, "kognita_epoch_messages_refused_total") + 2
                    && counter(after, "kognita_votes_rejected_total") >= counter(before, "kognita_votes_rejected_total") + 1
            }
            #expect(!link.isClosed, "well-formed but refused messages must not cost the connection")
            #expect(try await net.status(0).epoch == 0, "a checkpoint signed by outsiders must not be adopted")

            // Stake refusals, through the CLI as an operator meets them.
            let operatorKey = SigningKey()
            try await net.fund(operatorKey.publicKey, 10_000)
            let keyPath = "\(net.directory)/operator.key"
            try KeyFile.save(operatorKey, to: keyPath, replace: true)
            let kognita = try Repository.builtProduct("kognita")
            let node = net.url(0)
            let bond = try await ChildProcess.run(kognita, ["stake", "bond", "500", "--key", keyPath, "--node", node])
            #expect(bond.status == 0, "\(bond.stderr)")
            let unbond = try await ChildProcess.run(kognita, ["stake", "unbond", "501", "--key", keyPath, "--node", node])
            #expect(unbond.status == 1 && unbond.stderr.contains("insufficient-bond"), "\(unbond.stderr)")
            // The network's minimum bond is 1 unit: drop to 0 first, then registering must fail.
            let all = try await ChildProcess.run(kognita, ["stake", "unbond", "500", "--key", keyPath, "--node", node])
            #expect(all.status == 0, "\(all.stderr)")
            let register = try await ChildProcess.run(kognita, ["validator", "register", "--key", keyPath, "--node-key", "\(net.home(3))/identity.key",
                                                               "--address", "127.0.0.1:9", "--node", node])
            #expect(register.status == 1 && register.stderr.contains("insufficient-bond"), "\(register.stderr)")
            let metrics = try await net.client(0).request(.GET, "/metrics").text
            #expect(metrics.contains(#"kognita_batches_rejected_total{reason="insufficient-bond"} 2"#), "\(metrics.split(separator: "\n").filter { $0.contains("insufficient") })")
        }
    }
}

extension EpochProcessTests {
    @Test("an independent implementation of the header chain (Python, pynacl + cbor2, written from the docs) verifies real nodes' checkpoints and a certificate of a later epoch from genesis, and fails on a tampered signature",
          .enabled(if: PythonTooling.isAvailable, "needs the Python tooling of make setup"))
    func independentChainCheck() async throws {
        try await LocalNetwork.with(rules: EpochRules(epochMillis: 2_000)) { net in
            let alice = SigningKey(), bob = SigningKey()
            try await waitUntil("epoch 3", within: 30) { (await epoch(net, 1) ?? 0) >= 3 }
            try await net.fund(alice.publicKey, 1_000)
            let batch = try SignedBatch.sign(Batch(network: try NetworkID(net.network), seq: 1, created: 1_767_225_600_000,
                                                   transfers: [Transfer(to: bob.publicKey, amount: Amount(10))]), with: alice)
            let (_, answer) = try await net.submit(1, batch)
            let certificate = try #require(answer.certificate)
            let certificateEpoch = try Certificate(decoding: try Hex.decode(certificate)).epoch
            #expect(certificateEpoch >= 3)
            let arguments = ["--genesis", net.genesisPath, "--node", net.url(1)]
            let checked = try await PythonTooling.run("Tests/Interop/verify_checkpoint_chain.py", arguments + ["--certificate", certificate])
            #expect(checked.status == 0, "\(checked.stdout)\n\(checked.stderr)")
            #expect(checked.stdout.contains("certificate ok"), "\(checked.stdout)")
            let tampered = try await PythonTooling.run("Tests/Interop/verify_checkpoint_chain.py", arguments + ["--tamper"])
            #expect(tampered.status == 1, "a tampered signature must fail the independent check:\n\(tampered.stdout)")
        }
    }
}

extension EpochProcessTests {
    @Test("a validator SIGKILLed while its epoch's agreement runs and restarted at once repeats what it signed (its write-ahead log), and the network keeps deciding the same chain")
    func restartMidAgreement() async throws {
        try await LocalNetwork.with(rules: EpochRules(epochMillis: 2_000)) { net in
            let genesis = try Node.loadGenesis(net.genesisPath)
            for round in 0..<3 {
                let victim = round % net.size
                // Kill it while sealed: its report and agreement messages are out, the checkpoint is not decided yet.
                try await waitUntil("validator \(victim) sealed", within: 20) {
                    (try? await net.status(victim))?.epochState?.sealed == true
                }
                let sealedIn = await epoch(net, victim) ?? 0
                _ = net.stop(victim, signal: SIGKILL)
                try net.start(victim)
                try await net.waitUntilReady(victim, within: 60)
                try await waitUntil("every node past epoch \(sealedIn + 1)", within: 40) {
                    for index in 0..<net.size where (await epoch(net, index) ?? 0) <= sealedIn + 1 { return false }
                    return true
                }
            }
            var epochs: [UInt64] = []
            for index in 0..<net.size { epochs.append(await epoch(net, index) ?? 0) }
            let common = try #require(epochs.min())
            let reference = try await chain(net, 0, count: common)
            for index in 0..<net.size {
                let theirs = try await chain(net, index, count: common)
                #expect(theirs.map(\.header) == reference.map(\.header), "node \(index) holds another chain")
                _ = try CheckpointChain.verify(theirs, genesisDigest: genesis.digest, genesisCommittee: try genesis.committee())
            }
            try await net.waitForIdenticalLedgers()
        }
    }
}

/// Milliseconds since 1970, for headers made in tests.
enum WallClockForTests {
    static func now() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}

/// The Byzantine validator's side of its connections: it keeps the links
/// and every vote it receives, and sends only what the test tells it to.
final class Withholder: PeerLinkHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var open: [PeerLink] = []
    private var votes: [Vote] = []
    var links: [PeerLink] { lock.withLock { open.filter { !$0.isClosed } } }
    func linkOpened(_ link: PeerLink) async { lock.withLock { open.append(link) } }
    func received(_ message: PeerMessage, from link: PeerLink) async {
        if case .vote(let vote) = message { lock.withLock { votes.append(vote) } }
    }
    func linkClosed(_ link: PeerLink, error: (any Error)?) async {}
    func broadcast(_ message: PeerMessage) { for link in links { link.send(message) } }

    /// A certificate for `key` from the votes received and `own`, when they make a quorum.
    func certificate(for key: BatchKey, committee: Committee, adding own: Vote) -> VerifiedCertificate? {
        // The votes' epoch's committee: the same validators here (nobody bonds in this test).
        guard let ofEpoch = try? Committee(network: committee.network, epoch: own.epoch, validators: committee.validators) else { return nil }
        var assembler = CertificateAssembler(committee: ofEpoch)
        var formed: [VerifiedCertificate] = []
        for vote in lock.withLock({ votes }) + [own] where vote.epoch == own.epoch && vote.keys.contains(key) {
            guard let verified = try? vote.verify(for: ofEpoch) else { continue }
            formed += assembler.add(verified).filter { $0.batch == key }
        }
        return formed.first
    }
}

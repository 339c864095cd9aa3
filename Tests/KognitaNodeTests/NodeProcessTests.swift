import Foundation
import KognitaCore
import KognitaLedger
import KognitaNode
import KognitaTesting
import Testing

/// Four real `kognita-node` processes on loopback, made with `kognita genesis new`.
@Suite("Node processes: finality, crashes, restarts and a lying validator", .serialized)
struct NodeProcessTests {
    /// A batch of `from` at `seq` after `prev`, paying `amount` to `to`.
    func batch(_ network: LocalNetwork, from: SigningKey, seq: UInt64, prev: String, to: AccountID, amount: UInt64,
               created: UInt64 = 1_767_225_600_000) throws -> SignedBatch {
        let prevID = prev.isEmpty ? BatchID.zero : try BatchID(hex: prev)
        return try SignedBatch.sign(Batch(network: try NetworkID(network.network), seq: seq, prev: prevID, created: created,
                                          transfers: [Transfer(to: to, amount: Amount(amount), sensor: "meter-1", reading: Int64(seq))]),
                                    with: from)
    }

    @Test("a submitted batch becomes final on every node with a certificate a quorum signed, and all ledgers are identical")
    func batchBecomesFinalEverywhere() async throws {
        try await LocalNetwork.with { net in
            let alice = SigningKey(), bob = SigningKey()
            try await net.fund(alice.publicKey, 10_000)
            let first = try batch(net, from: alice, seq: 1, prev: "", to: bob.publicKey, amount: 1_000)
            let (status, answer) = try await net.submit(1, first)
            #expect(status == 200)
            #expect(answer.status == "final")
            #expect(answer.id == first.id.rawValue.hex)

            // The certificate checks out against the genesis committee, independently of the node.
            let genesis = try Node.loadGenesis(net.genesisPath)
            let certificate = try Certificate(decoding: try Hex.decode(answer.certificate ?? ""))
            let verified = try certificate.verify(for: try genesis.committee())
            #expect(verified.batch == BatchKey(first))

            try await net.waitForIdenticalLedgers()
            for index in 0..<4 {
                let bobHead = try await net.account(index, bob.publicKey)
                #expect(bobHead.balance == 1_000)
                let aliceHead = try await net.account(index, alice.publicKey)
                #expect(aliceHead.nextSeq == 2 && aliceHead.balance == 9_000 && aliceHead.lastFinal == first.id.rawValue.hex)
            }

            // A resend is answered final again and changes nothing; another batch at that seq is stale.
            let (resendStatus, resend) = try await net.submit(3, first)
            #expect(resendStatus == 200 && resend.status == "final")
            let rival = try batch(net, from: alice, seq: 1, prev: "", to: bob.publicKey, amount: 2_000)
            let (rivalStatus, rivalAnswer) = try await net.submit(2, rival)
            #expect(rivalStatus == 409)
            #expect(rivalAnswer.error == "stale")
            let bobAfter = try await net.account(0, bob.publicKey)
            #expect(bobAfter.balance == 1_000)

            // Spending more than the balance is refused with the contract's reason.
            let greedy = try batch(net, from: alice, seq: 2, prev: first.id.rawValue.hex, to: bob.publicKey, amount: 1_000_000)
            let (greedyStatus, greedyAnswer) = try await net.submit(0, greedy)
            #expect(greedyStatus == 422)
            #expect(greedyAnswer.error == "insufficient-funds")
        }
    }

    @Test("/v1/status shows every peer connected and /metrics is Prometheus text with the node's counters")
    func statusAndMetrics() async throws {
        try await LocalNetwork.with { net in
            let alice = SigningKey()
            try await net.fund(alice.publicKey, 500)
            for index in 0..<4 {
                let status = try await net.status(index)
                #expect(status.validatorsConnected == 3)
                #expect(status.role == "validator")
                #expect(status.peers.count == 3)
            }
            let response = try await net.client(2).request(.GET, "/metrics")
            #expect(response.status == 200)
            let sample = try #require(try? Regex(#"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? -?[0-9.eE+-]+|\+Inf|NaN$"#))
            var names: Set<String> = []
            for line in response.text.split(separator: "\n") where !line.hasPrefix("#") {
                #expect(line.wholeMatch(of: sample) != nil, "not a Prometheus sample line: \(line)")
                names.insert(String(line.prefix { $0 != "{" && $0 != " " }))
            }
            #expect(names.isSuperset(of: ["kognita_batches_final_total", "kognita_votes_sent_total", "kognita_peer_connections_count",
                                          "kognita_batches_rejected_total", "kognita_submit_to_final_seconds_bucket"]))
            #expect(response.text.contains("kognita_batches_final_total 1"))
            #expect(net.stop(3, signal: SIGTERM) == 0, "SIGTERM did not stop the node cleanly:\n\(net.log(3).suffix(1000))")
        }
    }

    @Test("with one validator killed by SIGKILL batches still become final; restarted, it catches up to the same ledger")
    func survivesAndCatchesUp() async throws {
        try await LocalNetwork.with { net in
            let alice = SigningKey(), bob = SigningKey()
            try await net.fund(alice.publicKey, 10_000)
            net.stop(3, signal: SIGKILL)
            var prev = ""
            for seq in UInt64(1)...5 {
                let next = try batch(net, from: alice, seq: seq, prev: prev, to: bob.publicKey, amount: 10)
                let (status, answer) = try await net.submit(Int(seq % 3), next)
                #expect(status == 200 && answer.status == "final", "seq \(seq): \(answer)")
                prev = next.id.rawValue.hex
            }
            try net.start(3)
            try await net.waitUntilReady(3)
            try await net.waitForIdenticalLedgers()
            let head = try await net.account(3, alice.publicKey)
            #expect(head.nextSeq == 6 && head.lastFinal == prev)
            let bobHead = try await net.account(3, bob.publicKey)
            #expect(bobHead.balance == 50)
            #expect(net.log(3).contains("caught up"))
        }
    }

    @Test("a validator restarted after SIGKILL never votes for a different batch at a seq it had locked")
    func lockSurvivesRestart() async throws {
        try await LocalNetwork.with { net in
            let alice = SigningKey(), bob = SigningKey()
            try await net.fund(alice.publicKey, 1_000)
            // With two of four validators down no quorum forms: A is only locked (by 1 and 4).
            net.stop(1)
            net.stop(2)
            let a = try batch(net, from: alice, seq: 1, prev: "", to: bob.publicKey, amount: 1)
            let b = try batch(net, from: alice, seq: 1, prev: "", to: bob.publicKey, amount: 2)
            let (acceptedStatus, accepted) = try await net.submit(0, a, waitFinal: false)
            #expect(acceptedStatus == 202 && accepted.status == "accepted")
            try await Task.sleep(for: .milliseconds(500))
            net.stop(0, signal: SIGKILL)
            try net.start(0)
            try await net.waitUntilReady(0)
            let (conflictStatus, conflict) = try await net.submit(0, b, waitFinal: false)
            #expect(conflictStatus == 409)
            #expect(conflict.error == "conflict")
            // With the others back, A (which 1 and 4 voted for) becomes final, and B never does.
            try net.start(1)
            try net.start(2)
            try await net.waitUntilReady(1)
            try await net.waitUntilReady(2)
            let (finalStatus, final) = try await net.submit(0, a)
            #expect(finalStatus == 200 && final.status == "final", "\(final)")
            try await net.waitForIdenticalLedgers()
            for index in 0..<4 {
                let lookup = try await net.client(index).request(.GET, "/v1/batches/\(b.id.rawValue.hex)")
                #expect(lookup.status == 404)
                let bobHead = try await net.account(index, bob.publicKey)
                #expect(bobHead.balance == 1)
            }
        }
    }

    @Test("a lying validator that votes for two batches at one seq never gets two certificates at one (account, seq) on an honest node")
    func lyingValidator() async throws {
        try await LocalNetwork.with(start: false) { net in
            for index in 0..<3 { try net.start(index) }
            // Validator 4 is a test double in this process: it signs whatever it is asked to.
            let liarKey = try net.identity(3)
            let genesis = try Node.loadGenesis(net.genesisPath)
            let liar = Liar()
            let targets = genesis.validators.filter { $0.id > liarKey.publicKey }
                .map { DialTarget(identity: $0.id, address: PeerAddress($0.address)!) }
            let peerNetwork = PeerNetwork(
                listen: PeerAddress("127.0.0.1:\(net.basePort + 4)")!,
                identity: PeerIdentity(key: liarKey, role: .validator,
                                       policy: HandshakePolicy(network: genesis.network, genesis: genesis.digest, committee: try genesis.committee())),
                targets: targets, handler: liar, logger: .init(label: "liar"))
            let liarTask = Task { try await peerNetwork.run() }
            defer { liarTask.cancel() }
            for index in 0..<3 { try await net.waitUntilReady(index) }
            let deadline = Date().addingTimeInterval(10)
            while liar.links.count < 3 && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(liar.links.count == 3)

            let alice = SigningKey(), bob = SigningKey(), carol = SigningKey()
            try await net.fund(alice.publicKey, 1_000)
            for round in 0..<3 {
                let head = try await net.account(0, alice.publicKey)
                let a = try batch(net, from: alice, seq: head.nextSeq, prev: head.lastFinal == String(repeating: "0", count: 64) ? "" : head.lastFinal,
                                  to: bob.publicKey, amount: 1, created: 1_767_225_600_000 + UInt64(round))
                let b = try batch(net, from: alice, seq: head.nextSeq, prev: head.lastFinal == String(repeating: "0", count: 64) ? "" : head.lastFinal,
                                  to: carol.publicKey, amount: 2, created: 1_767_225_600_000 + UInt64(round))
                // The liar votes for both; honest validators see A and B in different orders.
                for key in [BatchKey(a), BatchKey(b)] {
                    liar.broadcast(.vote(Vote.sign(keys: [key], network: genesis.network, epoch: 0, with: liarKey)))
                }
                async let first = net.submit(0, a, waitFinal: false)
                async let second = net.submit(1, b, waitFinal: false)
                _ = try await (first, second)
                try await Task.sleep(for: .seconds(1))
                var finalOn: [Int: Set<String>] = [:]
                for index in 0..<3 {
                    for candidate in [a, b] {
                        let lookup = try await net.client(index).request(.GET, "/v1/batches/\(candidate.id.rawValue.hex)")
                        if lookup.status == 200 { finalOn[index, default: []].insert(candidate.id.rawValue.hex) }
                    }
                }
                for (index, finals) in finalOn { #expect(finals.count <= 1, "node \(index) has two final batches at one seq: \(finals)") }
                #expect(Set(finalOn.values).count <= 1, "honest nodes disagree: \(finalOn)")
                if finalOn.isEmpty { break } // the account is stuck at this seq (a split of the honest votes): safe, and the test ends
            }
            try await net.waitForIdenticalLedgers([0, 1, 2])
        }
    }

    @Test("a node killed with SIGKILL mid-load loses nothing it had reported final")
    func restartMidLoad() async throws {
        try await LocalNetwork.with { net in
            let payers = (0..<4).map { _ in SigningKey() }, payee = SigningKey()
            for payer in payers { try await net.fund(payer.publicKey, 1_000_000) }
            let acknowledged = Acknowledged()
            let load = Task {
                await withTaskGroup(of: Void.self) { group in
                    for payer in payers {
                        group.addTask {
                            var prev = ""
                            for seq in UInt64(1)...1_000 {
                                guard let next = try? self.batch(net, from: payer, seq: seq, prev: prev, to: payee.publicKey, amount: 1),
                                      let (_, answer) = try? await net.submit(0, next),
                                      answer.status == "final" else { return }
                                acknowledged.add(payer.publicKey, seq, next.id.rawValue.hex)
                                prev = next.id.rawValue.hex
                            }
                        }
                    }
                }
            }
            try await Task.sleep(for: .seconds(2))
            net.stop(0, signal: SIGKILL)
            await load.value
            let before = acknowledged.all
            #expect(before.count > 0)
            try net.start(0)
            try await net.waitUntilReady(0)
            try await net.waitForIdenticalLedgers()
            for (account, seq, id) in before {
                let lookup = try await net.api(0).finalBatch(id)
                let accounts = lookup?.batches.map(\.account) ?? []
                #expect(lookup?.status == "final" && accounts.contains(account.hex),
                        "seq \(seq) of \(account) was acknowledged final but is missing after the restart")
                let head = try await net.account(0, account)
                #expect(head.nextSeq > seq)
            }
        }
    }

    @Test("a malformed frame, an oversize frame and an unproven identity close only that connection, and are counted")
    func badPeersAreCutOff() async throws {
        try await LocalNetwork.with { net in
            let peerPort = net.basePort + 1
            // An announced frame far over the limit.
            #expect(try RawPeer.closesAfter(port: peerPort, sending: [0xff, 0xff, 0xff, 0xff]))
            // A frame that is not a hello.
            #expect(try RawPeer.closesAfter(port: peerPort, sending: [0, 0, 0, 3, 1, 2, 3]))
            // A hello that claims the validator role for a key outside the genesis.
            let genesis = try Node.loadGenesis(net.genesisPath)
            let hello = Hello(network: genesis.network, genesis: genesis.digest, role: .validator,
                              identity: SigningKey().publicKey, ephemeral: EphemeralKeyExchange().publicKey).encoded()
            let length = UInt32(hello.count)
            #expect(try RawPeer.closesAfter(port: peerPort, sending: withUnsafeBytes(of: length.bigEndian, Array.init) + hello))
            // A malformed HTTP body gets a 4xx with the reason.
            let response = try await net.client(0).request(.POST, "/v1/batches", body: [0xd2, 0x84, 0x01])
            #expect(response.status == 400)
            #expect(response.text.contains("malformed"))
            // The node still serves everyone else and counted the three.
            let status = try await net.status(0)
            #expect(status.validatorsConnected == 3)
            let metrics = try await net.client(0).request(.GET, "/metrics").text
            let rejected = metrics.split(separator: "\n").first { $0.hasPrefix("kognita_peer_connections_rejected_total ") }
            #expect(rejected.flatMap { Int($0.split(separator: " ")[1]) } ?? 0 >= 3)
        }
    }
}

/// The lying validator's side of its connections: it keeps the links and ignores what arrives.
final class Liar: PeerLinkHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var open: [PeerLink] = []
    var links: [PeerLink] { lock.withLock { open.filter { !$0.isClosed } } }
    func linkOpened(_ link: PeerLink) async { lock.withLock { open.append(link) } }
    func received(_ message: PeerMessage, from link: PeerLink) async {}
    func linkClosed(_ link: PeerLink, error: (any Error)?) async {}
    func broadcast(_ message: PeerMessage) { for link in links { link.send(message) } }
}

/// Batches a node reported final, collected from concurrent tasks.
final class Acknowledged: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(AccountID, UInt64, String)] = []
    func add(_ account: AccountID, _ seq: UInt64, _ id: String) { lock.withLock { entries.append((account, seq, id)) } }
    var all: [(AccountID, UInt64, String)] { lock.withLock { entries } }
}

/// A plain TCP client that sends raw bytes to a peer port.
enum RawPeer {
    /// Whether the node closes the connection within a few seconds after `bytes`.
    static func closesAfter(port: Int, sending bytes: [UInt8]) throws -> Bool {
        guard let fd = FreePort.connect(port) else { throw TestSupportError("cannot connect to 127.0.0.1:\(port)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }                  // closed by the node
            if n < 0 { return errno == ECONNRESET }    // reset counts as closed; a timeout does not
        }
    }
}

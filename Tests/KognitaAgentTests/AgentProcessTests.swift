import Testing
import Foundation
import Synchronization
import KognitaCore
import KognitaMQTT
import KognitaTesting

/// A few lines of bridge for tests: verifies each batch, keeps one account's
/// chain like the network would, and acks on the device's ack topic (final,
/// stale or gap, with the head; head replies to sync).
final class TestBridge: Sendable {
    struct Ledger {
        var nextSeq: UInt64 = 1
        var lastFinal = BatchID.zero
        var finalIDs: Set<BatchID> = []
        var paidTransfers: [String: Int] = [:] // "reading@at" -> times in final batches
        var paid: UInt64 = 0
        var idsBySeq: [UInt64: Set<BatchID>] = [:]
        var batchesReceived = 0
        /// A rival batch takes the seq first (the device then gets stale) on
        /// every `rivalEvery`-th batch that would apply, `rivalsLeft` times.
        var rivalEvery = 0
        var rivalsLeft = 0
        var rivals = 0
        var applicable = 0
        /// Answer insufficient-funds to this many batches before accepting.
        var refuseFunds = 0
        var reasonsSent: [RejectReason: Int] = [:]
    }

    /// The ledger behind a lock, in a box the worker task can share.
    final class Box: Sendable {
        let mutex = Mutex(Ledger())
        func withLock<R>(_ body: (inout Ledger) -> R) -> R { mutex.withLock { body(&$0) } }
    }

    let client: MQTTClient
    let ledger = Box()
    private let worker: Task<Void, Never>

    init(port: Int, network: String) async throws {
        client = try MQTTClient(MQTTConfiguration(port: port, clientID: "test-bridge", cleanStart: true, sessionExpirySeconds: 0,
                                                  reconnectDelayMinSeconds: 0.1, reconnectDelayMaxSeconds: 0.5))
        client.start()
        _ = try await first(client.events) { if case .connected = $0 { true } else { false } }
        try await client.subscribe(["kognita/\(network)/+/batch", "kognita/\(network)/+/sync"])
        let client = self.client, ledger = self.ledger
        worker = Task {
            for await message in client.messages {
                let parts = message.topic.split(separator: "/")
                guard parts.count == 4 else { continue }
                let ackTopic = "kognita/\(parts[1])/\(parts[2])/ack"
                let ack: Ack? = ledger.withLock { l in
                    if parts[3] == "sync" {
                        return Ack(seq: l.nextSeq, status: .head, head: AccountHead(nextSeq: l.nextSeq, lastFinal: l.lastFinal, balance: Amount(1 << 40)))
                    }
                    guard let signed = try? SignedBatch.verify(message.payload, expectedNetwork: try NetworkID(String(parts[1]))),
                          signed.signer.hex == parts[2] else { return nil }
                    l.batchesReceived += 1
                    let seq = signed.batch.seq
                    l.idsBySeq[seq, default: []].insert(signed.id)
                    let head = AccountHead(nextSeq: l.nextSeq, lastFinal: l.lastFinal, balance: Amount(1 << 40))
                    func reject(_ reason: RejectReason) -> Ack {
                        l.reasonsSent[reason, default: 0] += 1
                        return Ack(id: signed.id, seq: seq, status: .rejected, reason: reason, head: head)
                    }
                    if l.finalIDs.contains(signed.id) { return Ack(id: signed.id, seq: seq, status: .final) }
                    if seq < l.nextSeq { return reject(.stale) }
                    if seq > l.nextSeq || signed.batch.prev != l.lastFinal { return reject(.gap) }
                    if l.refuseFunds > 0 { l.refuseFunds -= 1; return reject(.insufficientFunds) }
                    l.applicable += 1
                    if l.rivalsLeft > 0 && l.applicable % l.rivalEvery == 0 {
                        l.rivalsLeft -= 1
                        // Another batch of this account becomes final at this seq first.
                        let rival = BatchID(BLAKE2b256.hash(Array("rival \(seq)".utf8)))
                        l.rivals += 1
                        l.nextSeq += 1
                        l.lastFinal = rival
                        return reject(.stale)
                    }
                    l.nextSeq += 1
                    l.lastFinal = signed.id
                    l.finalIDs.insert(signed.id)
                    for t in signed.batch.transfers {
                        l.paidTransfers["\(t.reading ?? 0)@\(t.at ?? 0)", default: 0] += 1
                        l.paid += t.amount.baseUnits
                    }
                    return Ack(id: signed.id, seq: seq, status: .final)
                }
                if let ack, let bytes = try? ack.encoded() { try? await client.publish(ackTopic, payload: bytes) }
            }
        }
    }

    func stop() {
        worker.cancel()
        client.stop()
    }
}

@Suite("kognita-agent process (real broker, real files, SIGKILL)", .serialized)
struct AgentProcessTests {
    /// Starts the agent, then for each round consumes a random number of
    /// units (a few ms apart), waits a random pause, kills the agent with
    /// SIGKILL and starts it again; every third round `whileDown` more units
    /// are consumed while it is down. Returns the running agent and the units
    /// consumed in all.
    static func consumeWithKills(_ harness: AgentHarness, rounds: Int, steps: ClosedRange<Int>,
                                 pauseBeforeKill: ClosedRange<Int> = 0...0, whileDown: Int = 0) async throws -> (SpawnedProcess, Int) {
        // The first run makes the key and takes the counter's starting point.
        var agent = try harness.start()
        try await harness.waitUntilRunning()
        var units = 0
        var generator = SystemRandomNumberGenerator()
        for round in 0..<rounds {
            for _ in 0..<Int.random(in: steps, using: &generator) {
                units += 1
                try harness.setCounter(units)
                try await Task.sleep(for: .milliseconds(Int.random(in: 2...25, using: &generator)))
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: pauseBeforeKill, using: &generator)))
            agent.stop(signal: SIGKILL)
            if round % 3 == 0 && whileDown > 0 { units += whileDown; try harness.setCounter(units) }
            agent = try harness.start()
        }
        return (agent, units)
    }

    @Test("with a bridge that acks every batch final, every unit consumed is paid exactly once and the spool drains")
    func streamsToFinal() async throws {
        try await MosquittoBroker.with { broker in
            try await TemporaryDirectory.with { dir in
                let harness = try AgentHarness(directory: dir, port: broker.port)
                let bridge = try await TestBridge(port: broker.port, network: "kognita-devnet")
                defer { bridge.stop() }
                let agent = try harness.start()
                defer { agent.stop(signal: SIGKILL) }
                try await harness.waitUntilRunning()
                for units in 1...200 {
                    try harness.setCounter(units)
                    try await Task.sleep(for: .milliseconds(10))
                }
                #expect(await eventually(within: 20) { bridge.ledger.withLock { $0.paid } == 200 },
                        "paid \(bridge.ledger.withLock { $0.paid }) of 200\n\(harness.log().suffix(2000))")
                // The meter restarts its count: what it shows next is new consumption, and the log says so.
                try harness.setCounter(3)
                #expect(await eventually(within: 20) { bridge.ledger.withLock { $0.paid } == 203 },
                        "paid \(bridge.ledger.withLock { $0.paid }) of 203 after a reset\n\(harness.log().suffix(2000))")
                #expect(harness.log().contains("sensor meter went from 200.0 to 3.0 units; read as a counter reset"), "\(harness.log().suffix(1500))")
                #expect(await eventually(within: 10) { harness.status()?["pending_batches"] as? Int == 0 }, "the spool did not drain")
                #expect(harness.status()?["broker_connected"] as? Bool == true)
                agent.stop(signal: SIGTERM, timeout: 10)
                // The status file outlives the agent: after a clean stop it says disconnected.
                #expect(harness.status()?["broker_connected"] as? Bool == false)
                bridge.ledger.withLock { l in
                    #expect(l.paidTransfers.values.allSatisfy { $0 == 1 })
                    #expect(l.idsBySeq.values.allSatisfy { $0.count == 1 })
                }
            }
        }
    }

    @Test("killed with SIGKILL at random moments and restarted, many times: every unit is paid exactly once, no seq reused")
    func survivesSIGKILL() async throws {
        try await MosquittoBroker.with { broker in
            try await TemporaryDirectory.with { dir in
                let harness = try AgentHarness(directory: dir, port: broker.port)
                let bridge = try await TestBridge(port: broker.port, network: "kognita-devnet")
                defer { bridge.stop() }
                // Consumption while the agent is down (every third round) is counted when it comes back.
                let (agent, units) = try await Self.consumeWithKills(harness, rounds: 10, steps: 5...60, whileDown: 7)
                defer { agent.stop(signal: SIGKILL) }
                #expect(await eventually(within: 30) { bridge.ledger.withLock { $0.paid } == UInt64(units) },
                        "paid \(bridge.ledger.withLock { $0.paid }) of \(units)\n\(harness.log().suffix(3000))")
                #expect(await eventually(within: 10) { harness.status()?["pending_batches"] as? Int == 0 }, "the spool did not drain")
                agent.stop(signal: SIGTERM, timeout: 10)
                bridge.ledger.withLock { l in
                    #expect(l.paid == UInt64(units), "paid twice or lost: \(l.paid) vs \(units)")
                    #expect(l.paidTransfers.values.allSatisfy { $0 == 1 }, "a transfer was paid twice")
                    #expect(l.idsBySeq.values.allSatisfy { $0.count == 1 }, "a seq was signed for two different batches")
                }
            }
        }
    }

    @Test("the broker stopped and started while streaming: the agent reconnects and nothing is lost")
    func brokerRestart() async throws {
        try await MosquittoBroker.with { broker in
            try await TemporaryDirectory.with { dir in
                let harness = try AgentHarness(directory: dir, port: broker.port)
                let agent = try harness.start()
                defer { agent.stop(signal: SIGKILL) }
                try await harness.waitUntilRunning()
                var bridge = try await TestBridge(port: broker.port, network: "kognita-devnet")
                var units = 0
                for round in 0..<3 {
                    for _ in 0..<40 { units += 1; try harness.setCounter(units); try await Task.sleep(for: .milliseconds(10)) }
                    bridge.stop()
                    broker.stop()
                    for _ in 0..<20 { units += 1; try harness.setCounter(units); try await Task.sleep(for: .milliseconds(10)) }
                    try await broker.start()
                    let ledger = bridge.ledger.withLock { $0 }
                    bridge = try await TestBridge(port: broker.port, network: "kognita-devnet")
                    bridge.ledger.withLock { $0 = ledger } // the network remembers across broker restarts
                    _ = round
                }
                #expect(await eventually(within: 30) { bridge.ledger.withLock { $0.paid } == UInt64(units) },
                        "paid \(bridge.ledger.withLock { $0.paid }) of \(units)\n\(harness.log().suffix(2000))")
                #expect(await eventually(within: 10) { harness.status()?["pending_batches"] as? Int == 0 })
                bridge.ledger.withLock { l in
                    #expect(l.paidTransfers.values.allSatisfy { $0 == 1 })
                }
                bridge.stop()
            }
        }
    }

    @Test("stale (a rival batch took the seq), gap and insufficient-funds from the bridge: the agent re-chains or waits, and pays every unit once")
    func rechainsAndWaits() async throws {
        try await MosquittoBroker.with { broker in
            try await TemporaryDirectory.with { dir in
                let harness = try AgentHarness(directory: dir, port: broker.port)
                try harness.setUplink("funds_hold_ms = 500")
                let bridge = try await TestBridge(port: broker.port, network: "kognita-devnet")
                defer { bridge.stop() }
                bridge.ledger.withLock { $0.rivalEvery = 3; $0.rivalsLeft = 3; $0.refuseFunds = 2 }
                let agent = try harness.start()
                defer { agent.stop(signal: SIGKILL) }
                try await harness.waitUntilRunning()
                for units in 1...300 { try harness.setCounter(units); try await Task.sleep(for: .milliseconds(15)) }
                #expect(await eventually(within: 40) { bridge.ledger.withLock { $0.paid } == 300 },
                        "paid \(bridge.ledger.withLock { $0.paid }) of 300\n\(harness.log().suffix(2000))")
                #expect(await eventually(within: 10) { harness.status()?["pending_batches"] as? Int == 0 })
                bridge.ledger.withLock { l in
                    #expect(l.rivals == 3 && l.reasonsSent[.stale, default: 0] >= 3, "stale was not exercised")
                    #expect(l.reasonsSent[.insufficientFunds] == 2)
                    #expect(l.paidTransfers.values.allSatisfy { $0 == 1 }, "a transfer was paid twice")
                }
                #expect(harness.log().contains("re-chaining"))
            }
        }
    }

    @Test("killed with SIGKILL at random moments while rival batches keep forcing re-chains: every unit is paid exactly once")
    func survivesSIGKILLWhileRechaining() async throws {
        try await MosquittoBroker.with { broker in
            try await TemporaryDirectory.with { dir in
                let harness = try AgentHarness(directory: dir, port: broker.port)
                let bridge = try await TestBridge(port: broker.port, network: "kognita-devnet")
                defer { bridge.stop() }
                // Every other batch that would apply loses its seq to a rival:
                // the agent is re-chaining (asking for its head, re-signing,
                // spooling the replacements) for much of the run.
                bridge.ledger.withLock { $0.rivalEvery = 2; $0.rivalsLeft = 1_000 }
                // A pause before each kill lets acks (and so re-chains) arrive: the kill lands among them.
                let (agent, units) = try await Self.consumeWithKills(harness, rounds: 8, steps: 10...50, pauseBeforeKill: 0...600)
                defer { agent.stop(signal: SIGKILL) }
                // Rivals stop; what is still pending must now become final.
                bridge.ledger.withLock { $0.rivalsLeft = 0 }
                #expect(await eventually(within: 40) { bridge.ledger.withLock { $0.paid } == UInt64(units) },
                        "paid \(bridge.ledger.withLock { $0.paid }) of \(units)\n\(harness.log().suffix(3000))")
                #expect(await eventually(within: 10) { harness.status()?["pending_batches"] as? Int == 0 }, "the spool did not drain")
                agent.stop(signal: SIGTERM, timeout: 10)
                bridge.ledger.withLock { l in
                    #expect(l.rivals >= 5, "re-chaining was hardly exercised: \(l.rivals) rivals")
                    #expect(l.paid == UInt64(units), "paid twice or lost: \(l.paid) vs \(units)")
                    #expect(l.paidTransfers.values.allSatisfy { $0 == 1 }, "a transfer was paid twice")
                }
                #expect(harness.log().contains("re-chaining"))
            }
        }
    }

    @Test("the state topic holds a retained online while the agent runs, and offline after a clean stop and (the last will) after a SIGKILL")
    func onlineAndOffline() async throws {
        try await MosquittoBroker.with { broker in
            try await TemporaryDirectory.with { dir in
                let harness = try AgentHarness(directory: dir, port: broker.port)
                var agent = try harness.start()
                defer { agent.stop(signal: SIGKILL) }
                try await harness.waitUntilRunning()
                let device = try #require(harness.status()?["device"] as? String)
                // Another client, as a dashboard would be: it only reads the topic.
                let watcher = try MQTTClient(MQTTConfiguration(port: broker.port, clientID: "state-watcher", cleanStart: true, sessionExpirySeconds: 0))
                watcher.start()
                defer { watcher.stop() }
                _ = try await first(watcher.events) { if case .connected = $0 { true } else { false } }
                try await watcher.subscribe(["kognita/kognita-devnet/\(device)/state"])
                let seen = Protected<[String]>([])
                let reader = Task {
                    for await message in watcher.messages {
                        let text = String(decoding: message.payload, as: UTF8.self)
                        seen.withLock { $0.append(text) }
                    }
                }
                defer { reader.cancel() }
                func states() -> [String] { seen.withLock { $0 } }

                #expect(await eventually(within: 10) { states() == ["online"] }, "\(states())")
                agent.stop(signal: SIGTERM, timeout: 10)
                #expect(await eventually(within: 10) { states() == ["online", "offline"] }, "after a clean stop: \(states())")
                agent = try harness.start()
                #expect(await eventually(within: 10) { states() == ["online", "offline", "online"] }, "after a restart: \(states())")
                try await Task.sleep(for: .milliseconds(300))
                agent.stop(signal: SIGKILL)
                #expect(await eventually(within: 10) { states() == ["online", "offline", "online", "offline"] }, "after SIGKILL: \(states())")
            }
        }
    }

    @Test("a spool with a torn last record: the agent starts, says what it dropped, and still pays every unit once")
    func tornSpool() async throws {
        try await MosquittoBroker.with { broker in
            try await TemporaryDirectory.with { dir in
                let harness = try AgentHarness(directory: dir, port: broker.port)
                try await harness.spoolWithoutBridge(units: 60, batches: 2)
                // Tear the last record, as a power cut mid-write would.
                let journal = "\(dir)/state/spool.journal"
                let bytes = try Data(contentsOf: URL(fileURLWithPath: journal))
                try bytes.dropLast(9).write(to: URL(fileURLWithPath: journal))
                // And what a crash mid-way through rewriting the status file leaves.
                let leftover = "\(dir)/state/.status.json.tmp-99999-0123456789ab"
                try Data("{".utf8).write(to: URL(fileURLWithPath: leftover))

                let bridge = try await TestBridge(port: broker.port, network: "kognita-devnet")
                defer { bridge.stop() }
                let agent = try harness.start()
                defer { agent.stop(signal: SIGKILL) }
                #expect(await eventually(within: 10) { harness.log().contains("spool repaired on start") })
                #expect(harness.log().contains("torn last record"))
                #expect(!FileManager.default.fileExists(atPath: leftover), "the abandoned status temporary was kept")
                try harness.setCounter(61)
                #expect(await eventually(within: 20) { bridge.ledger.withLock { $0.paid } == 61 },
                        "paid \(bridge.ledger.withLock { $0.paid }) of 61\n\(harness.log().suffix(1500))")
                bridge.ledger.withLock { l in #expect(l.paidTransfers.values.allSatisfy { $0 == 1 }) }
            }
        }
    }

    @Test("a spool with a corrupt record in the middle: the agent starts, keeps every intact record and reports what it dropped")
    func corruptSpool() async throws {
        try await MosquittoBroker.with { broker in
            try await TemporaryDirectory.with { dir in
                let harness = try AgentHarness(directory: dir, port: broker.port)
                try await harness.spoolWithoutBridge(units: 80, batches: 3)
                let pendingBefore = harness.status()?["pending_batches"] as? Int ?? 0
                // Flip bytes in the middle of the journal, as a failing SD card would.
                let journal = "\(dir)/state/spool.journal"
                var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: journal)))
                for offset in (bytes.count / 2)..<(bytes.count / 2 + 8) { bytes[offset] ^= 0xA5 }
                try Data(bytes).write(to: URL(fileURLWithPath: journal))

                let agent = try harness.start()
                defer { agent.stop(signal: SIGKILL) }
                #expect(await eventually(within: 10) { harness.log().contains("spool repaired on start") })
                #expect(harness.log().contains("damaged records"), "\(harness.log().suffix(800))")
                #expect(await eventually(within: 10) { harness.status()?["pending_batches"] as? Int == pendingBefore - 1 },
                        "expected exactly the damaged batch to be dropped")
            }
        }
    }

    @Test("a replaced key file with batches of the old key still spooled: the agent refuses to start and says why")
    func replacedKey() async throws {
        try await MosquittoBroker.with { broker in
            try await TemporaryDirectory.with { dir in
                let harness = try AgentHarness(directory: dir, port: broker.port)
                try await harness.spoolWithoutBridge(units: 30, batches: 1)
                let keyPath = "\(dir)/state/device.key"
                try FileManager.default.removeItem(atPath: keyPath)
                let keygen = try await ChildProcess.run(try Repository.builtProduct("kognita"), ["keygen", "--out", keyPath])
                #expect(keygen.status == 0)
                let agent = try harness.start()
                defer { agent.stop(signal: SIGKILL) }
                #expect(await eventually(within: 10) { !agent.isRunning }, "the agent kept running with a foreign key")
                #expect(harness.log().contains("the key file was replaced"))
            }
        }
    }

    @Test("device-id makes the key before the first start (private, stable) and the agent then signs with it")
    func deviceIDBeforeFirstStart() async throws {
        try await MosquittoBroker.with { broker in
            try await TemporaryDirectory.with { dir in
                let harness = try AgentHarness(directory: dir, port: broker.port)
                let agentBinary = try Repository.builtProduct("kognita-agent")
                let first = try await ChildProcess.run(agentBinary, ["device-id", "-c", harness.configFile])
                #expect(first.status == 0, "\(first.stderr)")
                let id = first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(id.count == 64 && id.allSatisfy(\.isHexDigit), "not a device id: \(first.stdout)")
                let keyPath = "\(dir)/state/device.key"
                let mode = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
                #expect(mode == 0o600)
                let again = try await ChildProcess.run(agentBinary, ["device-id", "-c", harness.configFile])
                #expect(again.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == id, "a second call made another key")
                let shown = try await ChildProcess.run(try Repository.builtProduct("kognita"), ["key", "show", keyPath])
                #expect(shown.stdout.contains(id))

                let bridge = try await TestBridge(port: broker.port, network: "kognita-devnet")
                defer { bridge.stop() }
                let agent = try harness.start()
                defer { agent.stop(signal: SIGKILL) }
                try await harness.waitUntilRunning()
                #expect(harness.status()?["device"] as? String == id)
                try harness.setCounter(5)
                #expect(await eventually(within: 10) { bridge.ledger.withLock { $0.paid } == 5 },
                        "the bridge (which checks the topic's device id against the signer) never got the batch:\n\(harness.log())")
            }
        }
    }
}

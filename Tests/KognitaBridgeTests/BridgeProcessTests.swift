import Foundation
import KognitaCore
import KognitaTesting
import Testing

/// Real mosquitto, real nodes, real bridges, real agents.
@Suite("Bridge processes: contract devices, the whole path under SIGKILL, the broker ACL", .serialized)
struct BridgeProcessTests {
    @Test("a device built from the contract alone (Python) gets accepted then final with a certificate it verifies itself, final again on a resend, and each contract rejection",
          .enabled(if: PythonTooling.isAvailable, "Python cross-check tooling missing: run 'make setup'"))
    func contractDevice() async throws {
        try await LocalNetwork.with { net in
            try await MosquittoBroker.with { broker in
                let bridge = try BridgeProcess(directory: "\(net.directory)/bridge", genesisPath: net.genesisPath, brokerPort: broker.port)
                try await bridge.waitUntilConnected(nodes: 4)
                let seed = Sodium.randomBytes(32)
                let device = try SigningKey(seed: seed)
                try await net.fund(device.publicKey, 1_000)
                let recipient = SigningKey().publicKey
                let validators = try (0..<4).map { try net.identity($0).publicKey.hex }.joined(separator: ",")
                let result = try await ChildProcess.run(try PythonTooling.interpreter.get(), [
                    Repository.path("Tests/Interop/contract_device.py"), "--port", "\(broker.port)", "--network", net.network,
                    "--seed", Hex.encode(seed), "--recipient", recipient.hex, "--validators", validators,
                ])
                #expect(result.status == 0, "the Python device failed: \(result.stderr)")
                let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
                func acks(_ scenario: String) -> [[String: Any]] { report[scenario] as? [[String: Any]] ?? [] }
                func statuses(_ scenario: String) -> [Int] { acks(scenario).compactMap { $0["status"] as? Int } }
                func reason(_ scenario: String) -> Int? { acks(scenario).last?["reason"] as? Int }

                #expect(statuses("sync") == [3])
                #expect(acks("sync").first?["head_next"] as? Int == 1)
                #expect(statuses("valid") == [0, 1], "\(acks("valid"))")
                #expect(acks("valid").last?["has_cert"] as? Bool == true)
                #expect(acks("valid").last?["id"] as? String == report["valid_id"] as? String)
                #expect(statuses("resend") == [1])
                // The certificate checks out from docs/PROTOCOL.md alone (Python: cbor2, hashlib, pynacl).
                #expect(report["cert_valid"] as? Bool == true)
                #expect(statuses("bad_signature") == [2] && reason("bad_signature") == 2)
                #expect(statuses("not_authorized") == [2] && reason("not_authorized") == 7)
                #expect(statuses("wrong_network") == [2] && reason("wrong_network") == 3)
                #expect(statuses("too_large") == [2] && reason("too_large") == 8)

                // The network applied the valid batch once.
                let head = try await net.account(0, recipient)
                #expect(head.balance == 25)
                #expect((await bridge.metric("kognita_bridge_batches_duplicate_total") ?? 0) >= 1)
            }
        }
    }

    @Test("the real agent, the broker, two bridges and four nodes: with a bridge and then a node killed by SIGKILL, every unit is paid exactly once and the spool drains")
    func wholePathSurvivesKills() async throws {
        try await LocalNetwork.with { net in
            try await MosquittoBroker.with { broker in
                let bridges = try (1...2).map { try BridgeProcess(directory: "\(net.directory)/bridge-\($0)", genesisPath: net.genesisPath, brokerPort: broker.port) }
                for bridge in bridges { try await bridge.waitUntilConnected(nodes: 4) }
                let recipient = SigningKey().publicKey
                try FileManager.default.createDirectory(atPath: "\(net.directory)/agent", withIntermediateDirectories: true)
                let agent = try AgentHarness(directory: "\(net.directory)/agent", port: broker.port, network: net.network,
                                             recipient: recipient.hex, price: 3)
                let id = try await ChildProcess.run(try Repository.builtProduct("kognita-agent"), ["device-id", "-c", agent.configFile])
                let device = try AccountID(hex: id.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? "")
                try await net.fund(device, 10_000_000)
                let process = try agent.start()
                defer { process.stop(signal: SIGKILL) }
                try await agent.waitUntilRunning()

                var units = 0
                func consume(_ steps: Int) async throws {
                    for _ in 0..<steps {
                        units += 7
                        try agent.setCounter(units)
                        try await Task.sleep(for: .milliseconds(40))
                    }
                }
                try await consume(30)
                bridges[0].stop(signal: SIGKILL)
                try await consume(30)
                net.stop(2, signal: SIGKILL)
                try await consume(30)

                let expected = UInt64(units * 3)
                let drained = await eventually(within: 60) {
                    guard let status = agent.status() else { return false }
                    return status["pending_batches"] as? Int == 0 && status["open_transfers"] as? Int == 0
                }
                #expect(drained, "the spool did not drain: \(agent.status() ?? [:])\n\(agent.log().suffix(1500))")
                let paid = try await net.account(0, recipient).balance
                #expect(paid == expected, "paid \(paid) for \(units) units at 3 (expected \(expected))")
                try await net.waitForIdenticalLedgers([0, 1, 3])
                for index in [1, 3] {
                    let balance = try await net.account(index, recipient).balance
                    #expect(balance == expected)
                }
                let spent = try await net.account(0, device)
                #expect(spent.balance == 10_000_000 - expected)
                #expect(bridges[1].isRunning)
                #expect(bridges[1].stop(signal: SIGTERM) == 0, "SIGTERM did not stop the bridge cleanly:\n\(bridges[1].log().suffix(1000))")
            }
        }
    }

    @Test("with no node reachable, or a device over its rate, the bridge answers overloaded instead of queueing")
    func overloaded() async throws {
        try await LocalNetwork.with(start: false) { net in
            try await MosquittoBroker.with { broker in
                let bridge = try BridgeProcess(directory: "\(net.directory)/bridge", genesisPath: net.genesisPath, brokerPort: broker.port,
                                               bridgeSettings: "device_rate = 1\ndevice_burst = 3")
                let connected = await eventually(within: 10) { bridge.log().contains("broker: connected") }
                #expect(connected)
                let device = SigningKey()
                let probe = try await MQTTProbe.connect(port: broker.port, username: "", password: "")
                defer { probe.stop() }
                let base = "kognita/\(net.network)/\(device.publicKey.hex)"
                #expect(try await probe.subscribe("\(base)/ack"))
                var prev = BatchID.zero
                for seq in UInt64(1)...6 {
                    let batch = try SignedBatch.sign(Batch(network: try NetworkID(net.network), seq: seq, prev: prev, created: 1,
                                                           transfers: [Transfer(to: device.publicKey, amount: 1)]), with: device)
                    prev = batch.id
                    #expect(try await probe.publish("\(base)/batch", batch.envelope))
                }
                let answered = await eventually(within: 10) { probe.received.count >= 6 }
                #expect(answered, "acks: \(probe.received.count)")
                let acks = probe.received.compactMap { try? Ack(decoding: $0.payload) }
                #expect(acks.allSatisfy { $0.status == .rejected && $0.reason == .overloaded }, "\(acks)")
                #expect(acks.contains { $0.detail?.contains("no node is reachable") == true })
                #expect(acks.contains { $0.detail?.contains("batches per second") == true })
                #expect(await bridge.metric("kognita_bridge_in_flight_batches") == 0)
            }
        }
    }

    @Test("the project's broker config (Config/mosquitto.conf and its ACL) runs with TLS and passwords, and keeps devices apart: none publishes to another's topics or reads its acks")
    func aclKeepsDevicesApart() async throws {
        try await TemporaryDirectory.with { dir in
            let plainPort = try FreePort.find(), tlsPort = try FreePort.find()
            let prepared = try await ChildProcess.run("/bin/bash", [Repository.path("Scripts/local-broker.sh"), "\(dir)/broker", "\(plainPort)", "\(tlsPort)"])
            #expect(prepared.status == 0, "local-broker.sh failed: \(prepared.stderr)")
            let kognita = try Repository.builtProduct("kognita")
            let alice = SigningKey(), mallory = SigningKey()
            var passwords: [String: String] = [:]
            for (name, key) in [("alice", alice), ("mallory", mallory)] {
                try KeyFile.save(key, to: "\(dir)/\(name).key", replace: false)
                let added = try await ChildProcess.run(kognita, ["device", "add", "--key", "\(dir)/\(name).key", "--password-file",
                                                           "\(dir)/broker/mosquitto.passwd", "--out", dir])
                #expect(added.status == 0, "\(added.stderr)")
                passwords[name] = try String(contentsOfFile: "\(dir)/\(key.publicKey.hex.prefix(16)).broker-password", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let broker = try SpawnedProcess(try MosquittoBroker.executable(), ["-c", "\(dir)/broker/mosquitto.conf"], logFile: "\(dir)/broker/stdout.log")
            defer { broker.stop() }
            let up = await eventually(within: 10) { FreePort.accepts(plainPort) && FreePort.accepts(tlsPort) }
            #expect(up, "mosquitto did not start with the project's config")
            let bridgePassword = try String(contentsOfFile: "\(dir)/broker/bridge-password", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)

            // Anonymous clients are refused; a device with its password gets in, over TLS too.
            await #expect(throws: (any Error).self) { _ = try await MQTTProbe.connect(port: plainPort, username: "", password: "") }
            let overTLS = try await MQTTProbe.connect(port: tlsPort, username: alice.publicKey.hex, password: passwords["alice"]!,
                                                      caFile: "\(dir)/broker/ca/ca.pem")
            overTLS.stop()

            let aliceClient = try await MQTTProbe.connect(port: plainPort, username: alice.publicKey.hex, password: passwords["alice"]!)
            let malloryClient = try await MQTTProbe.connect(port: plainPort, username: mallory.publicKey.hex, password: passwords["mallory"]!)
            let bridgeClient = try await MQTTProbe.connect(port: plainPort, username: "kognita-bridge", password: bridgePassword)
            let aliceBase = "kognita/testnet/\(alice.publicKey.hex)"
            #expect(try await aliceClient.subscribe("\(aliceBase)/ack"))
            // mosquitto may grant a subscription and filter on delivery: what counts is what arrives.
            _ = try await malloryClient.subscribe("\(aliceBase)/ack")
            _ = try await malloryClient.subscribe("kognita/testnet/+/ack")
            #expect(try await !malloryClient.publish("\(aliceBase)/batch", [1, 2, 3]), "the broker accepted a batch on another device's topic")
            #expect(try await !malloryClient.publish("\(aliceBase)/sync", []), "the broker accepted a sync on another device's topic")
            #expect(try await !malloryClient.publish("\(aliceBase)/ack", [4]), "the broker let a device write another device's acks")
            #expect(try await malloryClient.publish("kognita/testnet/\(mallory.publicKey.hex)/batch", [5]))
            // The bridge user reads batches through the shared subscription and writes acks: Alice gets hers, Mallory nothing.
            #expect(try await bridgeClient.subscribe("$share/kognita-bridges/kognita/testnet/+/batch"))
            #expect(try await aliceClient.publish("\(aliceBase)/batch", [7]))
            let relayed = await eventually(within: 5) { bridgeClient.received.contains { $0.payload == [7] } }
            #expect(relayed, "the bridge user did not receive a device's batch through the shared subscription")
            #expect(try await bridgeClient.publish("\(aliceBase)/ack", [6]))
            let delivered = await eventually(within: 5) { aliceClient.received.contains { $0.payload == [6] } }
            #expect(delivered, "Alice did not receive her own ack")
            try await Task.sleep(for: .milliseconds(300))
            #expect(malloryClient.received.isEmpty, "Mallory read: \(malloryClient.received.map(\.topic))")
            for client in [aliceClient, malloryClient, bridgeClient] { client.stop() }
        }
    }
}

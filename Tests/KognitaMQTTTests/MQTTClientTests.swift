import Testing
import Foundation
import KognitaMQTT
import KognitaTesting

/// Runs `body` with started clients, stopping them afterwards whatever happens.
func withClients<R>(_ configurations: [MQTTConfiguration], _ body: ([MQTTClient]) async throws -> R) async throws -> R {
    let clients = try configurations.map { try MQTTClient($0) }
    defer { clients.forEach { $0.stop() } }
    clients.forEach { $0.start() }
    return try await body(clients)
}

extension MQTTClient {
    func waitUntilConnected(within seconds: Double = 10) async throws -> Bool {
        let event = try await first(events, within: seconds) { if case .connected = $0 { true } else { false } }
        if case .connected(let sessionPresent) = event { return sessionPresent }
        return false
    }
}

@Suite("MQTT client over libmosquitto (real broker)", .serialized)
struct MQTTClientTests {
    static func config(_ broker: MosquittoBroker, _ id: String, cleanStart: Bool = false) -> MQTTConfiguration {
        MQTTConfiguration(port: broker.port, clientID: id, cleanStart: cleanStart, sessionExpirySeconds: 600,
                          reconnectDelayMinSeconds: 0.1, reconnectDelayMaxSeconds: 0.5)
    }

    @Test("a QoS 1 publish completes on PUBACK and arrives byte for byte")
    func publishAndReceive() async throws {
        try await MosquittoBroker.with { broker in
            try await withClients([Self.config(broker, "sub"), Self.config(broker, "pub")]) { clients in
                let (subscriber, publisher) = (clients[0], clients[1])
                _ = try await subscriber.waitUntilConnected()
                _ = try await publisher.waitUntilConnected()
                try await subscriber.subscribe(["kognita/test/+/batch"])
                let payload: [UInt8] = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
                try await publisher.publish("kognita/test/dev1/batch", payload: payload)
                let message = try await first(subscriber.messages) { _ in true }
                #expect(message.topic == "kognita/test/dev1/batch")
                #expect(message.payload == payload)
                #expect(message.qos == 1)
            }
        }
    }

    @Test("a clean stop right after QoS 1 publishes (their PUBACKs still on the way) sends DISCONNECT: the broker never publishes the will")
    func cleanStopKeepsTheWill() async throws {
        try await MosquittoBroker.with { broker in
            try await withClients([Self.config(broker, "watcher", cleanStart: true)]) { clients in
                let watcher = clients[0]
                _ = try await watcher.waitUntilConnected()
                try await watcher.subscribe(["kognita/test/+/state"])
                for round in 0..<15 {
                    var configuration = Self.config(broker, "device-\(round)", cleanStart: true)
                    configuration.will = .init(topic: "kognita/test/d\(round)/state", payload: Array("will".utf8), qos: 1, retain: false)
                    let device = try MQTTClient(configuration)
                    device.start()
                    _ = try await device.waitUntilConnected()
                    // A PUBACK arriving while the client says goodbye once made it drop the socket instead.
                    for n in 0..<3 { try device.send("kognita/test/d\(round)/state", payload: Array("m\(n)".utf8), qos: 1, retain: false) }
                    device.stop()
                }
                // Then a marker from the watcher: a will would come when the broker
                // sees a socket close, at each stop, well before it.
                try await Task.sleep(for: .milliseconds(500))
                try await watcher.publish("kognita/test/end/state", payload: Array("end".utf8))
                var payloads: [String] = []
                while true {
                    let message = try await first(watcher.messages, within: 10) { _ in true }
                    if message.topic == "kognita/test/end/state" { break }
                    payloads.append(String(decoding: message.payload, as: UTF8.self))
                }
                #expect(!payloads.contains("will"), "a cleanly stopped client's will was published: \(payloads)")
                #expect(payloads.count == 15 * 3, "every publish made before stop goes out: \(payloads)")
            }
        }
    }

    @Test("a client started while the broker is down connects once it is up")
    func startsBeforeBroker() async throws {
        try await TemporaryDirectory.with { dir in
            let broker = try MosquittoBroker.create(in: dir)
            defer { broker.stop() }
            try await withClients([Self.config(broker, "early")]) { clients in
                let disconnected = try await first(clients[0].events) { if case .disconnected = $0 { true } else { false } }
                #expect("\(disconnected)".contains("cannot connect"))
                try await broker.start()
                _ = try await clients[0].waitUntilConnected()
                #expect(clients[0].isConnected)
            }
        }
    }

    @Test("the session survives two broker restarts: session expiry is sent on every reconnect")
    func sessionSurvivesRepeatedReconnects() async throws {
        try await MosquittoBroker.with { broker in
            try await withClients([Self.config(broker, "persistent")]) { clients in
                let client = clients[0]
                #expect(try await client.waitUntilConnected() == false)
                try await client.subscribe(["kognita/test/dev/ack"])
                for restart in 1...2 {
                    broker.stop()
                    try await broker.start()
                    let present = try await client.waitUntilConnected()
                    #expect(present, "restart \(restart): the broker had forgotten the session")
                }
            }
        }
    }

    @Test("a broker that comes back from a crash with the session but not the subscriptions made after its last save: the client subscribes again")
    func resubscribesWhenTheSessionOutlivedItsSubscriptions() async throws {
        // No timed saves: the database on disk is what the last clean stop wrote.
        try await MosquittoBroker.with(config: "autosave_interval 0") { broker in
            try await withClients([Self.config(broker, "bridge-like"), Self.config(broker, "device-like", cleanStart: true)]) { clients in
                let (subscriber, publisher) = (clients[0], clients[1])
                #expect(try await subscriber.waitUntilConnected() == false)
                _ = try await publisher.waitUntilConnected()
                // A clean stop saves the session, which has no subscription yet.
                broker.stop()
                try await broker.start()
                #expect(try await subscriber.waitUntilConnected(within: 20), "the broker forgot the session on a clean restart")
                try await subscriber.subscribe(["kognita/test/+/batch"])
                // A crash loses what came after the save: the subscription, not the session.
                broker.kill9()
                try await broker.start()
                #expect(try await subscriber.waitUntilConnected(within: 20), "the session should have come back from the saved database")
                _ = try await publisher.waitUntilConnected(within: 20)
                // Published until heard (the subscription's SUBACK may still be on its way).
                let publishing = Task {
                    for _ in 0..<80 where !Task.isCancelled {
                        try? await publisher.publish("kognita/test/dev9/batch", payload: [9])
                        try? await Task.sleep(for: .milliseconds(250))
                    }
                }
                defer { publishing.cancel() }
                let message = try await first(subscriber.messages, within: 20) { $0.topic == "kognita/test/dev9/batch" }
                #expect(message.payload == [9])
            }
        }
    }

    @Test("a message published while the subscriber is away is delivered when it returns")
    func queuedWhileAway() async throws {
        try await MosquittoBroker.with { broker in
            // The subscriber subscribes, then leaves; its session stays on the broker.
            try await withClients([Self.config(broker, "away")]) { clients in
                _ = try await clients[0].waitUntilConnected()
                try await clients[0].subscribe(["kognita/test/away/ack"])
            }
            try await withClients([Self.config(broker, "pub2")]) { clients in
                _ = try await clients[0].waitUntilConnected()
                try await clients[0].publish("kognita/test/away/ack", payload: [1, 2, 3])
            }
            try await withClients([Self.config(broker, "away")]) { clients in
                #expect(try await clients[0].waitUntilConnected())
                let message = try await first(clients[0].messages) { _ in true }
                #expect(message.payload == [1, 2, 3])
            }
        }
    }

    @Test("a publish made while disconnected completes after the reconnect, and is delivered once")
    func publishWhileDisconnected() async throws {
        try await MosquittoBroker.with { broker in
            try await withClients([Self.config(broker, "sub3"), Self.config(broker, "pub3")]) { clients in
                let (subscriber, publisher) = (clients[0], clients[1])
                _ = try await subscriber.waitUntilConnected()
                _ = try await publisher.waitUntilConnected()
                try await subscriber.subscribe(["kognita/test/offline/#"])
                broker.stop()
                _ = try await first(publisher.events) { if case .disconnected = $0 { true } else { false } }
                let publishing = Task { try await publisher.publish("kognita/test/offline/x", payload: [42]) }
                try await Task.sleep(for: .milliseconds(300))
                try await broker.start()
                try await publishing.value
                let message = try await first(subscriber.messages) { _ in true }
                #expect(message.payload == [42])
                try await Task.sleep(for: .milliseconds(300))
                #expect(subscriber.droppedMessages == 0)
            }
        }
    }

    @Test("a publish the broker's ACL refuses throws, naming the reason")
    func refusedByACL() async throws {
        try await TemporaryDirectory.with { dir in
            try "topic readwrite allowed/#\n".write(toFile: "\(dir)/acl")
            try await MosquittoBroker.with(config: "acl_file \(dir)/acl") { broker in
                try await withClients([Self.config(broker, "acl")]) { clients in
                    _ = try await clients[0].waitUntilConnected()
                    try await clients[0].publish("allowed/x", payload: [1])
                    let error = await #expect(throws: MQTTError.self) {
                        try await clients[0].publish("kognita/other/dev/batch", payload: [1])
                    }
                    #expect(error?.description.contains("authori") == true, "\(error.map { "\($0)" } ?? "")")
                }
            }
        }
    }

    @Test("stop returns promptly when the broker is unreachable, and pending work fails")
    func stopNeverHangs() async throws {
        let port = try FreePort.find() // nothing listens here
        let client = try MQTTClient(MQTTConfiguration(port: port, clientID: "lonely", reconnectDelayMinSeconds: 5, reconnectDelayMaxSeconds: 30))
        client.start()
        let publishing = Task { try await client.publish("kognita/test/x/batch", payload: [1]) }
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        client.stop()
        #expect(ContinuousClock.now - started < .seconds(3))
        await #expect(throws: MQTTError.self) { try await publishing.value }
    }
}


@Suite("MQTT over TLS (real broker, throwaway CA)", .serialized)
struct MQTTTLSTests {
    @Test("a client that trusts the broker's CA connects over TLS 1.2+ and publishes; one that trusts another CA never connects")
    func tls() async throws {
        try await TemporaryDirectory.with { dir in
            let pki = try TestCertificates(in: dir)
            try await MosquittoBroker.with(config: pki.brokerConfiguration) { broker in
                var good = MQTTClientTests.config(broker, "tls-good")
                good.host = "localhost"
                good.tls = .init(caFile: pki.caFile)
                var bad = MQTTClientTests.config(broker, "tls-bad")
                bad.host = "localhost"
                bad.tls = .init(caFile: pki.otherCAFile)
                try await withClients([good, bad]) { clients in
                    _ = try await clients[0].waitUntilConnected()
                    try await clients[0].publish("kognita/test/tls/batch", payload: [1, 2, 3])
                    try await Task.sleep(for: .seconds(1))
                    #expect(!clients[1].isConnected, "a client trusting another CA got through")
                }
                let log = (try? String(contentsOfFile: "\(broker.directory)/mosquitto.log", encoding: .utf8)) ?? ""
                #expect(log.contains("tls-good"), "the TLS client did not reach the broker")
            }
        }
    }
}

@Suite("MQTT client set-up errors")
struct MQTTSetupTests {
    @Test("an unreadable TLS file is an error that says so, not a crash")
    func badTLSFile() {
        var configuration = MQTTConfiguration(clientID: "tls-missing")
        configuration.tls = .init(caFile: "/nonexistent/ca.pem")
        let error = #expect(throws: MQTTError.self) { try MQTTClient(configuration) }
        #expect(error?.description.contains("TLS") == true)
    }
}

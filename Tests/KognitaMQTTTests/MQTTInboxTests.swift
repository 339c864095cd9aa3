import Testing
import Foundation
import KognitaMQTT
import KognitaTesting
#if canImport(Glibc)
import Glibc
#endif

/// Reads an inbox the way a poll(2) loop does: takes only when its
/// descriptor is readable (so a broken signal fails the test), and hands
/// items out one by one. It never blocks a thread of the test pool: with two
/// cores there are two, and other suites time out if one is held.
final class InboxReader {
    let inbox: MQTTInbox
    private var buffered: [MQTTInbox.Item] = []
    init(_ inbox: MQTTInbox) { self.inbox = inbox }

    /// The next item that matches (the ones before it are passed over), or
    /// an error after `seconds` (generous: the whole suite runs in parallel
    /// on two cores, and one full local run in four stalled past 10 s).
    func next(within seconds: Double = 30, where match: (MQTTInbox.Item) -> Bool) async throws -> MQTTInbox.Item {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            while !buffered.isEmpty {
                let item = buffered.removeFirst()
                if match(item) { return item }
            }
            var descriptor = pollfd(fd: inbox.fd, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 0) > 0 {
                buffered = inbox.take()
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
        } while Date() < deadline || !buffered.isEmpty
        throw TestSupportError("no matching inbox item within \(seconds) s")
    }
}

func isConnected(_ item: MQTTInbox.Item) -> Bool { if case .event(.connected) = item { true } else { false } }
func isRefusal(_ item: MQTTInbox.Item) -> Bool { if case .event(.operationRefused) = item { true } else { false } }

/// Publishes probes on `topic` until one reaches `inbox` (the subscription,
/// made without waiting, is then in place); the probe is taken.
func awaitSubscription(_ reader: InboxReader, publisher: MQTTClient, topic: String) async throws {
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
        try await publisher.publish(topic, payload: [0])
        if (try? await reader.next(within: 0.2) { if case .message(let m) = $0 { m.topic == topic } else { false } }) != nil { return }
    }
    throw TestSupportError("the subscription never delivered a probe on \(topic)")
}

/// Runs `body` with a started listener that delivers to an inbox of
/// `capacity`, subscribed (without waiting) to `prefix/#` and known to
/// receive, and a started publisher; both are stopped afterwards.
func withInboxListener(_ broker: MosquittoBroker, capacity: Int, prefix: String,
                       _ body: (_ listener: MQTTClient, _ reader: InboxReader, _ publisher: MQTTClient) async throws -> Void) async throws {
    let reader = InboxReader(MQTTInbox(capacity: capacity))
    let listener = try MQTTClient(MQTTClientTests.config(broker, "\(prefix)-listener"), inbox: reader.inbox)
    let publisher = try MQTTClient(MQTTClientTests.config(broker, "\(prefix)-publisher"))
    defer { listener.stop(); publisher.stop() }
    listener.start()
    publisher.start()
    _ = try await reader.next(where: isConnected)
    try listener.subscribeWithoutWaiting(["\(prefix)/#"])
    _ = try await publisher.waitUntilConnected()
    try await awaitSubscription(reader, publisher: publisher, topic: "\(prefix)/probe")
    try await body(listener, reader, publisher)
}

@Suite("MQTT client with an inbox, for a poll(2) loop (real broker)", .serialized)
struct MQTTInboxTests {
    @Test("events and messages arrive through the inbox in order, and the async streams stay empty")
    func eventsAndMessagesArrive() async throws {
        try await MosquittoBroker.with { broker in try await withInboxListener(broker, capacity: 64, prefix: "kognita/inbox") { listener, reader, publisher in
            for index in 1...20 { try await publisher.publish("kognita/inbox/\(index)", payload: [UInt8(index)]) }
            var received: [UInt8] = []
            while received.count < 20 {
                let item = try await reader.next { if case .message(let m) = $0 { m.topic != "kognita/inbox/probe" } else { false } }
                if case .message(let message) = item { received.append(contentsOf: message.payload) }
            }
            #expect(received == Array(1...20))
            // The streams were finished at init: an inbox client never fills them.
            var streamed = 0
            for await _ in listener.messages { streamed += 1 }
            #expect(streamed == 0)
        } }
    }

    @Test("a publish the broker's ACL refuses, nobody waiting for it (send), comes back as operationRefused")
    func refusedSendIsReported() async throws {
        try await TemporaryDirectory.with { dir in
            // mosquitto 2.0 grants any subscription and filters at delivery,
            // but answers a refused QoS 1 publish with PUBACK 135 (MQTT 5).
            try "topic readwrite allowed/#\n".write(toFile: "\(dir)/acl")
            let broker = try MosquittoBroker.create(in: dir, config: "acl_file \(dir)/acl")
            defer { broker.stop() }
            try await broker.start()
            let inbox = MQTTInbox(capacity: 8)
            let reader = InboxReader(inbox)
            let client = try MQTTClient(MQTTClientTests.config(broker, "inbox-refused"), inbox: inbox)
            defer { client.stop() }
            client.start()
            _ = try await reader.next(where: isConnected)
            try client.send("denied/topic", payload: [1])
            let item = try await reader.next(where: isRefusal)
            guard case .event(.operationRefused(let description)) = item else { Issue.record("no refusal"); return }
            #expect(description.contains("publish"))
            #expect(description.contains("Not authorized"))
            #expect(description.contains("ACL"))
            // An allowed one is not reported.
            try client.send("allowed/topic", payload: [1])
            #expect((try? await reader.next(within: 1, where: isRefusal)) == nil)
        }
    }

    @Test("messages beyond the inbox's capacity between two takes are dropped and counted, not queued without bound")
    func boundedInbox() async throws {
        try await MosquittoBroker.with { broker in try await withInboxListener(broker, capacity: 5, prefix: "kognita/flood") { listener, reader, publisher in
            let inbox = reader.inbox
            _ = inbox.take() // any later probe copies; the flood must start from an empty inbox
            for index in 0..<30 { try await publisher.publish("kognita/flood/\(index)", payload: [UInt8(index)]) }
            // Wait (without taking) until all 30 have reached the client.
            for _ in 0..<100 where listener.droppedMessages < 25 { try await Task.sleep(for: .milliseconds(50)) }
            let messages = inbox.take().filter { if case .message = $0 { true } else { false } }
            #expect(messages.count == 5)
            #expect(listener.droppedMessages == 25)
        } }
    }
}

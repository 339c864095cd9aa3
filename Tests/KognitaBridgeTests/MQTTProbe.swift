import Foundation
import KognitaMQTT
import KognitaTesting

/// A bare MQTT v5 client for broker tests: says whether the broker granted a
/// subscription or a publish, and keeps what it received.
final class MQTTProbe: @unchecked Sendable {
    let client: MQTTClient
    private let lock = NSLock()
    private var messages: [MQTTMessage] = []
    private var reader: Task<Void, Never>?

    static func connect(port: Int, username: String, password: String, caFile: String? = nil) async throws -> MQTTProbe {
        let client = try MQTTClient(MQTTConfiguration(host: caFile == nil ? "127.0.0.1" : "localhost", port: port,
                                                      clientID: "probe-\(UUID().uuidString.prefix(8))", cleanStart: true,
                                                      sessionExpirySeconds: 0, username: username.isEmpty ? nil : username,
                                                      password: password.isEmpty ? nil : password, tls: caFile.map { .init(caFile: $0) },
                                                      reconnectDelayMinSeconds: 0.1, reconnectDelayMaxSeconds: 0.5))
        client.start()
        let event = try await first(client.events, within: 10) { if case .disconnected = $0 { false } else { true } }
        guard case .connected = event else {
            client.stop()
            throw TestSupportError("the broker refused \(username): \(event)")
        }
        let probe = MQTTProbe(client: client)
        probe.reader = Task { for await message in client.messages { probe.lock.withLock { probe.messages.append(message) } } }
        return probe
    }

    private init(client: MQTTClient) { self.client = client }

    var received: [MQTTMessage] { lock.withLock { messages } }

    /// True when the broker granted it; false when it refused it (any other failure throws).
    func subscribe(_ filter: String) async throws -> Bool {
        do { try await client.subscribe([filter]) } catch let error as MQTTError where error.description.contains("refused by the broker") {
            return false
        }
        return true
    }

    /// True when the broker acknowledged the QoS 1 publish; false when it refused it.
    func publish(_ topic: String, _ payload: [UInt8]) async throws -> Bool {
        do { try await client.publish(topic, payload: payload, qos: 1) } catch let error as MQTTError where error.description.contains("refused by the broker") {
            return false
        }
        return true
    }

    func stop() {
        client.stop()
        reader?.cancel()
    }
}

import Foundation
import KognitaBridge
import KognitaCore
import KognitaNode
import KognitaTesting
import Testing

@Suite("Bridge parts: topics, rate limits, configuration")
struct BridgeUnitTests {
    let network = try! NetworkID("kognita-devnet")
    let device = SigningKey().publicKey

    @Test("a device topic parses only in the contract's exact form")
    func topics() {
        let base = "kognita/kognita-devnet/\(device.hex)"
        #expect(DeviceTopic("\(base)/batch", network: network) == DeviceTopic(network: network, device: device, kind: .batch))
        #expect(DeviceTopic("\(base)/sync", network: network)?.with(.ack).topic == "\(base)/ack")
        #expect(DeviceTopic("\(base)/batch/extra", network: network) == nil)
        #expect(DeviceTopic("\(base)/other", network: network) == nil)
        #expect(DeviceTopic("kognita/another-net/\(device.hex)/batch", network: network) == nil)
        #expect(DeviceTopic("kognita/kognita-devnet/\(device.hex.uppercased())/batch", network: network) == nil)
        #expect(DeviceTopic("kognita/kognita-devnet/abc/batch", network: network) == nil)
        #expect(DeviceTopic.bridgeFilters(network: network, group: "g") == [
            "$share/g/kognita/kognita-devnet/+/batch", "$share/g/kognita/kognita-devnet/+/sync"])
    }

    @Test("a device's bucket allows its burst, then its rate, and one device never drains another's")
    func rateLimits() {
        var limiter = DeviceRateLimiter<Int>(rate: 10, burst: 5)
        let start = ContinuousClock.now
        var burst: [Bool] = []
        for _ in 0..<6 { burst.append(limiter.allow(1, now: start)) }
        #expect(burst == [true, true, true, true, true, false])
        let other = limiter.allow(2, now: start)                      // another device is untouched
        let refilled = limiter.allow(1, now: start + .milliseconds(100)) // one token back after 1/rate
        let again = limiter.allow(1, now: start + .milliseconds(100))
        #expect(other && refilled && !again)
        var small = DeviceRateLimiter<Int>(rate: 1, burst: 1, maxDevices: 100)
        for device in 0..<10_000 { _ = small.allow(device, now: start + .seconds(device)) }
        #expect(small.count <= 100)
    }

    @Test("Config/bridge.toml parses to its documented defaults; bad keys are reported by name")
    func configuration() throws {
        let text = try String(contentsOfFile: Repository.path("Config/bridge.toml"), encoding: .utf8)
        let c = try BridgeConfiguration.parse(text, path: "/etc/kognita/bridge.toml").get()
        #expect(c.genesisPath == "/etc/kognita/genesis.toml")
        #expect(c.identityPath == "/etc/kognita/bridge.key")
        #expect(c.shareGroup == "kognita-bridges")
        #expect(c.maxInFlight == 20_000 && c.deviceRate == 20 && c.deviceBurst == 40)
        #expect(c.broker.username == "kognita-bridge")
        #expect(c.broker.sessionExpirySeconds == 86_400)
        #expect(c.metricsListen == PeerAddress("127.0.0.1:9464"))
        #expect(c.nodes.isEmpty)

        let node = SigningKey().publicKey
        let overridden = try BridgeConfiguration.parse("", path: "bridge.toml", environment: [
            "KOGNITA_BRIDGE_NODES": "\(node.hex)@127.0.0.1:7401", "KOGNITA_BROKER_PORT": "2883", "KOGNITA_METRICS_LISTEN": "",
        ]).get()
        #expect(overridden.nodes == [DialTarget(identity: node, address: PeerAddress("127.0.0.1:7401")!)])
        #expect(overridden.broker.port == 2883)
        #expect(overridden.metricsListen == nil)

        guard case .failure(let errors) = BridgeConfiguration.parse("""
            [bridge]
            share_group = "a/b"
            nodes = "nonsense"
            [broker]
            tls_cert_file = "x.pem"
            """, path: "bridge.toml") else {
            Issue.record("a bad configuration parsed")
            return
        }
        let keys = Set(errors.messages.map { String($0.prefix { $0 != ":" }) })
        #expect(keys == ["bridge.share_group", "bridge.nodes", "broker.tls_ca_file"], "\(errors.messages)")
    }

    @Test("a rejection can name the batch it refuses even when its signature fails")
    func peekIdentity() throws {
        let key = SigningKey()
        let signed = try SignedBatch.sign(Batch(network: network, seq: 4, prev: BatchID(BLAKE2b256.hash([1])), created: 1,
                                                transfers: [Transfer(to: device, amount: 3)]), with: key)
        var forged = signed.envelope
        forged[forged.count - 1] ^= 1
        let peeked = try #require(SignedBatch.peekIdentity(forged))
        #expect(peeked.id == signed.id && peeked.seq == 4)
        #expect(SignedBatch.peekIdentity([0xd2, 0x84]) == nil)
    }
}

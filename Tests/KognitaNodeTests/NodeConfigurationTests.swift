import Foundation
import KognitaNode
import KognitaTesting
import Testing

@Suite("Node configuration (node.toml)")
struct NodeConfigurationTests {
    @Test("Config/node.toml parses to the documented defaults, with paths relative to its directory")
    func documentedDefaults() throws {
        let text = try String(contentsOfFile: Repository.path("Config/node.toml"), encoding: .utf8)
        let configuration = try NodeConfiguration.parse(text, path: "/etc/kognita/node.toml").get()
        #expect(configuration.identityPath == "/etc/kognita/identity.key")
        #expect(configuration.genesisPath == "/etc/kognita/genesis.toml")
        #expect(configuration.dataDirectory == "/etc/kognita/data")
        #expect(configuration.peerListen == PeerAddress("0.0.0.0:7401"))
        #expect(configuration.apiListen == PeerAddress("127.0.0.1:8401"))
        #expect(configuration.faucetKeyPath == nil)
        #expect(configuration.logLevel == "info")
    }

    @Test("environment variables override the file, and an empty API address turns the API off")
    func environmentOverrides() throws {
        let configuration = try NodeConfiguration.parse("[api]\nlisten = \"127.0.0.1:9\"\n", path: "node.toml", environment: [
            "KOGNITA_PEER_LISTEN": "127.0.0.1:7500", "KOGNITA_API_LISTEN": "", "KOGNITA_NODE_DATA_DIRECTORY": "/var/lib/kognita",
        ]).get()
        #expect(configuration.peerListen == PeerAddress("127.0.0.1:7500"))
        #expect(configuration.apiListen == nil)
        #expect(configuration.dataDirectory == "/var/lib/kognita")
        #expect(configuration.genesisPath == "./genesis.toml")
    }

    @Test("every error is reported by its key in one pass")
    func errorsByKey() {
        let text = """
            [node]
            identity = "/no/scheme.key"
            log_level = "loud"
            colour = "blue"
            [peer]
            listen = "nowhere"
            """
        guard case .failure(let errors) = NodeConfiguration.parse(text, path: "node.toml") else {
            Issue.record("a bad configuration parsed")
            return
        }
        let keys = errors.messages.map { String($0.prefix { $0 != ":" }) }
        #expect(Set(keys) == ["node.identity", "node.log_level", "node.colour", "peer.listen"], "\(errors.messages)")
    }
}

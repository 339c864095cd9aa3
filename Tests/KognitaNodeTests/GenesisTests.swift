import Testing
import Foundation
import KognitaCore
import KognitaNode
import KognitaSystem
import KognitaTesting

@Suite("genesis")
struct GenesisTests {
    @Test("kognita genesis new writes a genesis that parses back, private identity keys that match it, and node configs")
    func genesisNew() async throws {
        try await TemporaryDirectory.with { dir in
            let out = "\(dir)/net"
            let result = try await ChildProcess.run(try Repository.builtProduct("kognita"),
                                              ["genesis", "new", "--network", "kognita-local", "--validators", "4", "--out", out])
            #expect(result.status == 0, "\(result.stderr)")
            let genesis = try Genesis.parse(String(contentsOfFile: "\(out)/genesis.toml", encoding: .utf8)).get()
            #expect(genesis.network.rawValue == "kognita-local")
            #expect(genesis.validators.count == 4)
            let committee = try genesis.committee()
            #expect(Set(committee.validators.map(\.weight)).count == 1)
            #expect(committee.quorumWeight > 2 * committee.validators[0].weight && committee.quorumWeight <= 3 * committee.validators[0].weight)
            #expect(result.stdout.contains(genesis.digest.hex))
            for number in 1...4 {
                let keyPath = "\(out)/validator-\(number)/identity.key"
                let key = try KeyFile.load(keyPath)
                #expect(genesis.validators[number - 1].id == key.publicKey)
                #expect(genesis.validators[number - 1].address == "127.0.0.1:\(7400 + number)")
                let mode = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
                #expect(mode == 0o600)
                let config = try String(contentsOfFile: "\(out)/validator-\(number)/node.toml", encoding: .utf8)
                #expect(config.contains("listen = \"127.0.0.1:\(8400 + number)\""))
                _ = try TOMLParser.parse(config)
            }
            let faucet = try KeyFile.load("\(out)/faucet.key")
            #expect(genesis.faucet == faucet.publicKey)
            #expect(genesis.allocations.map(\.account) == [faucet.publicKey])
            let authority = try genesis.authority()
            #expect(authority.totalMoney == Int128(genesis.supply.baseUnits))

            let again = try await ChildProcess.run(try Repository.builtProduct("kognita"),
                                             ["genesis", "new", "--network", "kognita-local", "--out", out])
            #expect(again.status != 0)
            #expect(again.stderr.contains("already exists"))
            #expect(try Genesis.parse(String(contentsOfFile: "\(out)/genesis.toml", encoding: .utf8)).get() == genesis, "overwritten")
        }
    }

    @Test("a broken genesis file is refused with every problem by key")
    func brokenGenesis() {
        let text = """
            [network]
            id = "Not Valid"
            [[validator]]
            id = "zz"
            address = "nowhere"
            [[allocation]]
            account = "\(String(repeating: "ab", count: 32))"
            amount = 0
            """
        guard case .failure(let errors) = Genesis.parse(text) else { Issue.record("accepted"); return }
        let keys = Set(errors.messages.map { String($0.prefix { $0 != ":" }) })
        #expect(keys.isSuperset(of: ["network.id", "validator[0].id", "allocation[0].amount", "validator"]), "\(errors.messages)")
    }

    @Test("the digest covers content, not layout")
    func digestIgnoresLayout() throws {
        let key = SigningKey().publicKey
        let text = "[network]\nid = \"n\"\n[[validator]]\nid = \"\(key.hex)\"\naddress = \"127.0.0.1:7401\"\n"
        let a = try Genesis.parse(text).get()
        let b = try Genesis.parse("# a comment\n" + text.replacingOccurrences(of: " = ", with: "=")).get()
        #expect(a.digest == b.digest)
        var c = a
        c.minimumFee = 1
        #expect(c.digest != a.digest)
    }
}

@Suite("genesis: documented example")
struct GenesisExampleTests {
    @Test("Config/genesis.toml is a valid genesis of four validators with a funded faucet")
    func exampleParses() throws {
        let genesis = try Genesis.parse(String(contentsOfFile: Repository.path("Config/genesis.toml"), encoding: .utf8)).get()
        #expect(genesis.validators.count == 4)
        let committee = try genesis.committee()
        // Four equal bonds: equal weights, and a quorum is three of them.
        #expect(Set(committee.validators.map(\.weight)).count == 1)
        #expect(committee.quorumWeight > 2 * committee.validators[0].weight && committee.quorumWeight <= 3 * committee.validators[0].weight)
        #expect(genesis.faucet == genesis.allocations.first?.account)
        #expect(genesis.supply == Amount(1_000_000_000_000_000 + 4 * 1_000_000))
        #expect(genesis.rules.epochMillis == 3_600_000 && genesis.rules.committeeSize == 16)
    }
}

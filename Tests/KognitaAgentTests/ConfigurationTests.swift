import Testing
import Foundation
import KognitaAgent
import KognitaSystem
import KognitaTesting

@Suite("agent configuration")
struct ConfigurationTests {
    private func parse(_ text: String, _ environment: [String: String] = [:]) -> Result<AgentConfiguration, ConfigurationErrors> {
        AgentConfiguration.parse(text, environment: environment)
    }

    @Test("the documented default file Config/agent.toml is valid and says what its comments say")
    func documentedDefaults() throws {
        let text = try String(contentsOfFile: Repository.path("Config/agent.toml"), encoding: .utf8)
        let configuration = try parse(text).get()
        #expect(configuration.keyURI == "file:/var/lib/kognita/device.key")
        #expect(configuration.broker.host == "127.0.0.1" && configuration.broker.port == 1883)
        #expect(configuration.batcher.maxTransfers == 256 && configuration.batcher.maxDelayMilliseconds == 2000)
        #expect(configuration.sensors.map(\.id) == ["meter-1"])
        #expect(configuration.rules.map(\.id) == ["water"])
        #expect(configuration.rules.map(\.dipToleranceMilliUnits) == [0])
    }

    @Test("rule.dip_tolerance is read in units (fractions allowed) and must not be negative")
    func dipTolerance() throws {
        let rule = """
            [[sensor]]
            id = "m"
            kind = "simulated"
            [[rule]]
            sensor = "m"
            recipient = "\(String(repeating: "ab", count: 32))"
            every = 1
            price = 1
            hourly_cap = 100
            """
        #expect(try parse(rule + "\ndip_tolerance = 0.25\n").get().rules.map(\.dipToleranceMilliUnits) == [250])
        guard case .failure(let errors) = parse(rule + "\ndip_tolerance = -1\n") else {
            Issue.record("accepted a negative dip_tolerance"); return
        }
        #expect(errors.messages.contains { $0.hasPrefix("rule[0].dip_tolerance:") }, "\(errors.messages)")
    }

    @Test("a sensor or rule with bad keys reports each of them by key, and never its good keys as unknown")
    func ruleErrorsByKey() {
        let text = """
            [[sensor]]
            id = "m"
            kind = "simulated"
            [[sensor]]
            kind = "file"
            scale = 0.001
            [[rule]]
            sensor = "nope"
            recipient = "\(String(repeating: "ab", count: 32))"
            price = 1
            hourly_cap = 100
            dip_tolerance = 0.5
            """
        guard case .failure(let errors) = parse(text) else { Issue.record("accepted a rule without every"); return }
        #expect(errors.messages.contains { $0.hasPrefix("sensor[1].id:") }, "\(errors.messages)")
        #expect(errors.messages.contains { $0.hasPrefix("sensor[1].path:") }, "\(errors.messages)")
        #expect(errors.messages.contains { $0.hasPrefix("rule[0].sensor: must name one of the configured sensors (m)") }, "\(errors.messages)")
        #expect(errors.messages.contains { $0.hasPrefix("rule[0].every: missing") }, "\(errors.messages)")
        #expect(!errors.messages.contains { $0.contains("unknown key") }, "\(errors.messages)")
        #expect(errors.messages.count == 4, "\(errors.messages)")
    }

    @Test("an empty file is a valid configuration: every key has a default")
    func everythingDefaulted() throws {
        let configuration = try parse("").get()
        #expect(configuration.stateDirectory == "/var/lib/kognita")
        #expect(configuration.uplink.maxInFlight == 16)
    }

    @Test("KOGNITA_<SECTION>_<KEY> overrides the file, numbers included")
    func environmentOverrides() throws {
        let configuration = try parse("[broker]\nhost = \"a\"\nport = 1883\n",
                                      ["KOGNITA_BROKER_HOST": "b.example", "KOGNITA_BROKER_PORT": "8883"]).get()
        #expect(configuration.broker.host == "b.example" && configuration.broker.port == 8883)
    }

    @Test("every problem is reported at once, each by its key")
    func errorsByKey() throws {
        let text = """
            [broker]
            port = 70000
            hots = "typo"
            [[sensor]]
            id = "s"
            kind = "thermometer"
            [[rule]]
            sensor = "nope"
            """
        guard case .failure(let errors) = parse(text, ["KOGNITA_BATCH_MAX_TRANSFERS": "2000"]) else {
            Issue.record("accepted a broken configuration"); return
        }
        let keys = errors.messages.map { String($0.prefix { $0 != ":" }) }
        for key in ["broker.port", "broker.hots", "sensor[0].kind", "rule[0].sensor", "batch.max_transfers"] {
            #expect(keys.contains(key), "no error for \(key) in \(errors.messages)")
        }
    }

    @Test("broker.password_file: read at start, must be private, and excludes broker.password")
    func passwordFile() async throws {
        try await TemporaryDirectory.with { dir in
            let path = "\(dir)/broker-password"
            try "s3cret\n".write(toFile: path)
            chmod(path, 0o600)
            let configuration = try parse("[broker]\npassword_file = \"\(path)\"\n").get()
            #expect(configuration.broker.password == nil)
            #expect(configuration.summary.contains { $0.contains("(from \(path))") && !$0.contains("s3cret") })
            #expect(try configuration.resolvingSecretFiles().broker.password == "s3cret")

            chmod(path, 0o644)
            #expect(throws: FileError.self) { try configuration.resolvingSecretFiles() }

            guard case .failure(let errors) = parse("[broker]\npassword = \"x\"\npassword_file = \"\(path)\"\n") else {
                Issue.record("accepted both a password and a password file"); return
            }
            #expect(errors.messages.contains { $0.hasPrefix("broker.password_file:") })
        }
    }
}

import ArgumentParser
import KognitaBridge
import KognitaNode
import KognitaSystem
import Logging

/// `kognita-bridge`: between a fleet's MQTT broker and the full nodes.
@main
struct KognitaBridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kognita-bridge",
        abstract: "Take device batches from the MQTT broker, check them, hand them to the nodes, and ack every device.",
        discussion: "Config/bridge.toml documents every setting; KOGNITA_<SECTION>_<KEY> overrides any of them.",
        subcommands: [Run.self, CheckConfig.self],
        defaultSubcommand: Run.self)
}

struct ConfigOption: ParsableArguments {
    @Option(name: [.short, .long], help: ArgumentHelp("The bridge configuration file.", valueName: "path"))
    var config = "/etc/kognita/bridge.toml"

    func load() throws -> BridgeConfiguration {
        let text: String
        do throws(FileError) { text = try ConfigEnvironment.read(config) } catch {
            throw ValidationError("cannot read the configuration: \(error.message)")
        }
        switch BridgeConfiguration.parse(text, path: config, environment: ConfigEnvironment.overrides()) {
        case .success(let configuration): return configuration
        case .failure(let errors): throw ValidationError("\(config) has errors:\n\(errors)")
        }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the bridge (the default).")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        ParentWatch.exitWhenOrphaned()
        let configuration = try options.load()
        let logger = ServiceLogging.bootstrap(label: "kognita-bridge", level: configuration.logLevel)
        do {
            try await BridgeService.run(configuration, logger: logger)
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-config", abstract: "Check a bridge configuration, then exit.")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        let c = try options.load()
        print("\(options.config): valid")
        print("  genesis   \(c.genesisPath)")
        print("  broker    \(c.broker.host):\(c.broker.port), group \(c.shareGroup), TLS \(c.broker.tls == nil ? "off" : "on")")
        print("  nodes     \(c.nodes.isEmpty ? "every genesis validator" : c.nodes.map { "\($0.address)" }.joined(separator: ", "))")
        print("  limits    \(c.maxInFlight) in flight, \(Int(c.deviceRate))/s per device (burst \(Int(c.deviceBurst)))")
        print("  metrics   \(c.metricsListen.map(\.description) ?? "off")")
    }
}

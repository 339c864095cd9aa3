import ArgumentParser
import KognitaBridge
import KognitaSystem
import Logging

#if canImport(Glibc)
import Glibc
#endif

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
        let bytes: [UInt8]
        do throws(FileError) { bytes = try FileIO.read(config, maxBytes: 1 << 20) } catch {
            throw ValidationError("cannot read the configuration: \(error.message)")
        }
        var environment: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if text.hasPrefix("KOGNITA_"), let equals = text.firstIndex(of: "=") {
                environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        switch BridgeConfiguration.parse(String(decoding: bytes, as: UTF8.self), path: config, environment: environment) {
        case .success(let configuration): return configuration
        case .failure(let errors): throw ValidationError("\(config) has errors:\n\(errors)")
        }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the bridge (the default).")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        let configuration = try options.load()
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "kognita-bridge")
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

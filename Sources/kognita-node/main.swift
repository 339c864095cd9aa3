import ArgumentParser
import KognitaCore
import KognitaNode
import KognitaSystem
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `kognita-node`: the full node of a Kognita network.
@main
struct KognitaNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kognita-node",
        abstract: "Run a Kognita full node (a validator when its identity is in the genesis committee).",
        discussion: """
            A network is made with `kognita genesis new`, which writes each validator's node.toml.
            A node that joins an existing network as a non-voting full node is set up with `kognita-node init`.
            Config/node.toml documents every setting; KOGNITA_<SECTION>_<KEY> overrides any of them.
            """,
        subcommands: [Run.self, Init.self, CheckConfig.self],
        defaultSubcommand: Run.self)
}

struct ConfigOption: ParsableArguments {
    @Option(name: [.short, .long], help: ArgumentHelp("The node configuration file.", valueName: "path"))
    var config = "/etc/kognita/node.toml"

    func load() throws -> NodeConfiguration {
        let text: String
        do throws(FileError) { text = try ConfigEnvironment.read(config) } catch {
            throw ValidationError("cannot read the configuration: \(error.message)")
        }
        switch NodeConfiguration.parse(text, path: config, environment: ConfigEnvironment.overrides()) {
        case .success(let configuration): return configuration
        case .failure(let errors): throw ValidationError("\(config) has errors:\n\(errors)")
        }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the node (the default).")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        ParentWatch.exitWhenOrphaned()
        let configuration = try options.load()
        let logger = ServiceLogging.bootstrap(label: "kognita-node", level: configuration.logLevel)
        do {
            try await Node.run(configuration, logger: logger)
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-config", abstract: "Check a node configuration and its genesis, then exit.")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        let configuration = try options.load()
        let genesis = try Node.loadGenesis(configuration.genesisPath)
        let identity: SigningKey
        do throws(KeyFileError) { identity = try KeyFile.load(configuration.identityPath) } catch {
            throw ValidationError("node.identity: \(error)")
        }
        let validator = genesis.validators.contains { $0.id == identity.publicKey }
        print("\(options.config): valid")
        print("  node      \(identity.publicKey) (\(validator ? "validator" : "full node"))")
        print("  network   \(genesis.network), genesis \(genesis.digest.hex.prefix(16))..., \(genesis.validators.count) validators")
        print("  data      \(configuration.dataDirectory)")
        print("  peers on  \(configuration.peerListen)")
        print("  API on    \(configuration.apiListen.map(\.description) ?? "off")")
        print("  faucet    \(configuration.faucetKeyPath ?? "none")")
    }
}

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Make an identity key and a node.toml for a node that joins an existing network as a non-voting full node.")
    @Option(help: ArgumentHelp("The network's genesis.toml (copied into the directory).", valueName: "path"))
    var genesis: String
    @Option(help: ArgumentHelp("Directory for identity.key, genesis.toml, node.toml and data.", valueName: "dir"))
    var out: String
    @Option(help: ArgumentHelp("Peer listener address.", valueName: "host:port"))
    var listen = "0.0.0.0:7400"
    @Option(help: ArgumentHelp("HTTP API address (127.0.0.1 keeps it local).", valueName: "host:port"))
    var api = "127.0.0.1:8400"

    func run() async throws {
        guard PeerAddress(listen) != nil else { throw ValidationError("--listen must be host:port") }
        guard PeerAddress(api) != nil else { throw ValidationError("--api must be host:port") }
        let parsed = try Node.loadGenesis(genesis)
        if access("\(out)/node.toml", F_OK) == 0 { throw ValidationError("\(out)/node.toml already exists; choose another --out") }
        mkdir(out, 0o700)
        let key = SigningKey()
        do throws(FileError) {
            try KeyFile.save(key, to: "\(out)/identity.key", replace: false)
            try FileIO.writeAtomically(Array(parsed.toml.utf8), to: "\(out)/genesis.toml", mode: 0o644, replace: false)
            let config = """
                # A non-voting full node of \(parsed.network) (made by kognita-node init).
                # Run it with: kognita-node --config \(out)/node.toml
                # Relative paths are relative to this file's directory.

                [node]
                identity = "file:identity.key"
                genesis = "genesis.toml"
                data_directory = "data"

                [peer]
                listen = "\(listen)"

                [api]
                listen = "\(api)"

                """
            try FileIO.writeAtomically(Array(config.utf8), to: "\(out)/node.toml", mode: 0o644, replace: false)
        } catch {
            throw ValidationError(error.message)
        }
        print("node \(key.publicKey) of \(parsed.network): \(out)/node.toml")
    }
}

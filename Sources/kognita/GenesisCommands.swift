import ArgumentParser
import KognitaCore
import KognitaNode
import KognitaSystem
#if canImport(Glibc)
import Glibc
#endif

struct GenesisCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "genesis",
        abstract: "Make a network's genesis.",
        subcommands: [GenesisNewCommand.self]
    )
}

struct GenesisNewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Make a local network: genesis.toml, each validator's identity key and node config, and a faucet key.",
        discussion: """
            Writes into --out (which must not hold a genesis yet):
              genesis.toml                 the network id, the validators (id, weight, peer address), the allocations
              faucet.key                   the faucet account's key (0600); the faucet holds the whole supply
              validator-N/identity.key     validator N's Ed25519 identity (0600)
              validator-N/node.toml        its node configuration: peer port BASE+N, HTTP port API_BASE+N on 127.0.0.1;
                                           validator-1 serves the faucet (POST /v1/faucet)
            """
    )

    @Option(name: .long, help: ArgumentHelp("The network id (1-32 of a-z, 0-9, -).", valueName: "net"))
    var network: String

    @Option(name: .long, help: ArgumentHelp("How many validators (1-64).", valueName: "n"))
    var validators = 4

    @Option(name: .long, help: ArgumentHelp("The directory to write into.", valueName: "dir"))
    var out: String

    @Option(name: .long, help: ArgumentHelp("Validator N listens for peers on this port + N.", valueName: "port"))
    var basePort = 7400

    @Option(name: .long, help: ArgumentHelp("Validator N serves HTTP on this port + N.", valueName: "port"))
    var apiBasePort = 8400

    @Option(name: .long, help: ArgumentHelp("The host validators listen on and are reached at.", valueName: "host"))
    var host = "127.0.0.1"

    @Option(name: .long, help: ArgumentHelp("Base units the faucet account starts with (the whole supply).", valueName: "amount"))
    var faucetAmount: UInt64 = 1_000_000_000_000_000

    func validate() throws {
        guard (1...64).contains(validators) else { throw CLIError("--validators must be from 1 to 64, not \(validators)") }
        guard basePort + validators <= 65535, apiBasePort + validators <= 65535, basePort > 0, apiBasePort > 0 else {
            throw CLIError("the ports do not fit below 65536; choose a lower --base-port or --api-base-port")
        }
        guard faucetAmount >= 1, faucetAmount <= UInt64(Int64.max) else { throw CLIError("--faucet-amount must be from 1 to \(Int64.max)") }
    }

    func run() throws {
        for line in try makeNetwork() { print(line) }
    }

    /// Writes the network's files; returns what was made, for people.
    func makeNetwork() throws -> [String] {
        let networkID: NetworkID
        do throws(ProtocolError) { networkID = try NetworkID(network) } catch { throw CLIError("--network: \(error.message)") }
        let directory = out.hasSuffix("/") && out.count > 1 ? String(out.dropLast()) : out
        let genesisPath = "\(directory)/genesis.toml"
        if access(genesisPath, F_OK) == 0 {
            throw CLIError("\(genesisPath) already exists; choose another --out (a genesis is never overwritten)")
        }
        try makeDirectory(directory, mode: 0o755)
        let faucet = SigningKey()
        try saveKey(faucet, to: "\(directory)/faucet.key")
        var entries: [Genesis.ValidatorEntry] = []
        for number in 1...validators {
            let identity = SigningKey()
            let home = "\(directory)/validator-\(number)"
            try makeDirectory(home, mode: 0o700)
            try saveKey(identity, to: "\(home)/identity.key")
            entries.append(.init(id: identity.publicKey, weight: 1, address: "\(host):\(basePort + number)"))
            // Only one node serves the faucet: two signers of one account
            // could sign two batches at one seq and freeze it.
            let faucetSection = number == 1 ? """
                [faucet]
                key = "file:../faucet.key"
                """ : """
                # The faucet is served by validator-1 only.
                """
            let config = """
                # Node configuration of validator \(number) of \(networkID) (made by kognita genesis new).
                # Run it with: kognita-node --config \(home)/node.toml
                # Relative paths are relative to this file's directory. Config/node.toml documents every key.

                [node]
                identity = "file:identity.key"
                genesis = "../genesis.toml"
                data_directory = "data"

                [peer]
                listen = "\(host):\(basePort + number)"

                [api]
                listen = "127.0.0.1:\(apiBasePort + number)"

                \(faucetSection)

                """
            try write(config, to: "\(home)/node.toml", mode: 0o644)
        }
        let genesis = Genesis(network: networkID, validators: entries,
                              allocations: [.init(account: faucet.publicKey, amount: Amount(faucetAmount))], faucet: faucet.publicKey)
        try write(genesis.toml, to: genesisPath, mode: 0o644)
        var lines = [
            "genesis of \(networkID) with \(validators) validator\(validators == 1 ? "" : "s") in \(directory)",
            "  genesis.toml digest \(genesis.digest.hex)",
            "  faucet account      \(faucet.publicKey.hex) holds \(faucetAmount)",
        ]
        for (number, entry) in entries.enumerated() {
            lines.append("  validator-\(number + 1)         \(entry.id.hex) peers at \(entry.address), HTTP on 127.0.0.1:\(apiBasePort + number + 1)")
        }
        return lines
    }

    private func makeDirectory(_ path: String, mode: mode_t) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw CLIError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
    }

    private func saveKey(_ key: SigningKey, to path: String) throws {
        do throws(FileError) { try KeyFile.save(key, to: path, replace: false) } catch {
            throw CLIError("cannot write \(path): \(error)")
        }
    }

    private func write(_ text: String, to path: String, mode: mode_t) throws {
        do throws(FileError) { try FileIO.writeAtomically(Array(text.utf8), to: path, mode: mode, replace: false) } catch {
            throw CLIError("cannot write \(path): \(error)")
        }
    }
}

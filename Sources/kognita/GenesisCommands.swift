import ArgumentParser
import KognitaCore
import KognitaLedger
import KognitaNode
import KognitaSystem

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
              genesis.toml                 the network id, the epoch settings, the validators (id, bond, peer address), the allocations
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

    @Option(name: .long, help: ArgumentHelp("Epoch length: a checkpoint this often (docs/EPOCHS.md).", valueName: "seconds"))
    var epochSeconds: UInt64 = EpochRules.defaultEpochSeconds

    @Option(name: .long, help: ArgumentHelp("The most seats on a committee (at least 4).", valueName: "n"))
    var committeeSize = EpochRules.defaultCommitteeSize

    @Option(name: .long, help: ArgumentHelp("Epochs that evidence of misbehaviour stays admissible; unbonded stake waits as long.", valueName: "k"))
    var evidenceEpochs: UInt64 = EpochRules.defaultEvidenceEpochs

    @Option(name: .long, help: ArgumentHelp("Each genesis validator's bonded stake, in base units (its voting weight, capped).", valueName: "amount"))
    var validatorBond: UInt64 = 1_000_000

    func validate() throws {
        guard (1...64).contains(validators) else { throw CLIError("--validators must be from 1 to 64, not \(validators)") }
        guard basePort + validators <= 65535, apiBasePort + validators <= 65535, basePort > 0, apiBasePort > 0 else {
            throw CLIError("the ports do not fit below 65536; choose a lower --base-port or --api-base-port")
        }
        guard faucetAmount >= 1, faucetAmount <= UInt64(Int64.max) else { throw CLIError("--faucet-amount must be from 1 to \(Int64.max)") }
        guard (1...(366 * 86_400)).contains(epochSeconds) else { throw CLIError("--epoch-seconds must be from 1 to \(366 * 86_400), not \(epochSeconds)") }
        guard (EpochRules.minimumCommitteeSize...Committee.maxValidators).contains(committeeSize) else {
            throw CLIError("--committee-size must be from \(EpochRules.minimumCommitteeSize) to \(Committee.maxValidators), not \(committeeSize)")
        }
        guard (1...1_000).contains(evidenceEpochs) else { throw CLIError("--evidence-epochs must be from 1 to 1000, not \(evidenceEpochs)") }
        guard (1...UInt64(Int64.max)).contains(validatorBond) else { throw CLIError("--validator-bond must be from 1 to \(Int64.max)") }
    }

    func run() throws {
        let networkID: NetworkID
        do throws(ProtocolError) { networkID = try NetworkID(network) } catch { throw CLIError("--network: \(error.message)") }
        let plan = LocalNetworkFiles.Plan(network: networkID, validators: validators, directory: out, basePort: basePort,
                                          apiBasePort: apiBasePort, host: host, faucetAmount: faucetAmount, validatorBond: validatorBond,
                                          rules: EpochRules(epochMillis: epochSeconds * 1000, committeeSize: committeeSize,
                                                            evidenceEpochs: evidenceEpochs))
        do throws(NetworkFilesError) { for line in try LocalNetworkFiles.make(plan).summary { print(line) } } catch {
            throw CLIError(error.description)
        }
    }
}

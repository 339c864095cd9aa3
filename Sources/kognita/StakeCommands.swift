import ArgumentParser
import Foundation
import KognitaCore
import KognitaLedger
import KognitaNode
import KognitaSystem

/// `--key FILE` and `--fee N`: the account that signs a stake operation.
struct AccountKeyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The account's key file (it signs the batch; its id is the account).", valueName: "path"))
    var key: String
    @Option(name: .long, help: ArgumentHelp("The fee the batch offers, in base units (at least the network's minimum).", valueName: "amount"))
    var fee: UInt64 = 0

    func load() throws -> SigningKey {
        do throws(KeyFileError) { return try KeyFile.load(key) } catch { throw CLIError("cannot load the account key: \(error)") }
    }
}

/// Signs a version-2 batch with `operations` at the account's next seq (as
/// the node knows it), submits it and waits until it is final.
func submitOperations(_ operations: [KognitaCore.Operation], account key: SigningKey, fee: UInt64, node: NodeOption) throws -> AckResponse {
    let api = try node.api()
    let ack = try blocking { try await api.submitOperations(operations, account: key, fee: Amount(fee)) }
    switch ack.status {
    case "final": return ack
    case "rejected": throw CLIError("rejected: \(ack.error ?? "error"): \(ack.detail ?? "")")
    default: throw CLIError("batch \(ack.id ?? "?") is \(ack.status), not final yet; check it later with GET /v1/batches/\(ack.id ?? "ID")")
    }
}

struct StakeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stake", abstract: "Bond or unbond an account's stake (docs/EPOCHS.md, section 7).",
        subcommands: [StakeBondCommand.self, StakeUnbondCommand.self])
}

struct StakeBondCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bond", abstract: "Move base units from the account's balance to its bonded stake.",
        discussion: "Bonded stake weighs in elections once the account registers a validator candidate ('kognita validator register').")

    @Argument(help: ArgumentHelp("Base units to bond.", valueName: "amount"))
    var amount: UInt64
    @OptionGroup var account: AccountKeyOptions
    @OptionGroup var node: NodeOption

    func run() throws {
        guard amount >= 1 else { throw CLIError("bond at least 1 base unit") }
        let ack = try submitOperations([.bond(Amount(amount))], account: try account.load(), fee: account.fee, node: node)
        print("final: bonded \(amount) in batch \(ack.id ?? "?") (seq \(ack.seq.map(String.init) ?? "?"))")
    }
}

struct StakeUnbondCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unbond", abstract: "Start returning bonded stake to the balance.",
        discussion: "Unbonded stake becomes spendable evidence_epochs epochs after the later of the unbond and the last epoch the account's validator sat.")

    @Argument(help: ArgumentHelp("Base units to unbond.", valueName: "amount"))
    var amount: UInt64
    @OptionGroup var account: AccountKeyOptions
    @OptionGroup var node: NodeOption

    func run() throws {
        guard amount >= 1 else { throw CLIError("unbond at least 1 base unit") }
        let ack = try submitOperations([.unbond(Amount(amount))], account: try account.load(), fee: account.fee, node: node)
        print("final: unbonding \(amount) in batch \(ack.id ?? "?") (seq \(ack.seq.map(String.init) ?? "?"))")
    }
}

struct ValidatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validator", abstract: "Validator candidates.", subcommands: [ValidatorRegisterCommand.self])
}

struct ValidatorRegisterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "Register a node as the account's validator candidate.",
        discussion: """
            The registration is signed by the node's identity key and, as part of the batch, by the account key.
            The account needs the network's minimum bond ('kognita stake bond'). The node is seated at a checkpoint
            once it is among the candidates with the most stake and more than a third of the committee's weight
            finds it connected: run it (kognita-node init, then kognita-node run) before or right after registering.
            """)

    @OptionGroup var account: AccountKeyOptions
    @Option(name: .customLong("node-key"), help: ArgumentHelp("The candidate node's identity key (its identity.key).", valueName: "path"))
    var nodeKey: String
    @Option(name: .customLong("address"), help: ArgumentHelp("Where peers reach the node's peer listener, host:port (1 to 4 times).", valueName: "host:port"))
    var addresses: [String] = []
    @OptionGroup var node: NodeOption

    func run() throws {
        guard !addresses.isEmpty, addresses.count <= Registration.maxAddresses else {
            throw CLIError("give 1 to \(Registration.maxAddresses) --address host:port (the node's [peer] listen address as others reach it)")
        }
        let accountKey = try account.load()
        let identity: SigningKey
        do throws(KeyFileError) { identity = try KeyFile.load(nodeKey) } catch { throw CLIError("cannot load the node key: \(error)") }
        let api = try node.api()
        let status = try blocking { try await api.status() }
        let network: NetworkID
        do throws(ProtocolError) { network = try NetworkID(status.network) } catch { throw CLIError("the node names its network '\(status.network)': \(error.message)") }
        let registration = Registration.sign(network: network, account: accountKey.publicKey, addresses: addresses, nodeKey: identity)
        let ack = try submitOperations([.register(registration)], account: accountKey, fee: account.fee, node: node)
        print("final: node \(identity.publicKey) registered for account \(accountKey.publicKey) in batch \(ack.id ?? "?")")
        print("it joins the committee at a checkpoint once elected; watch with 'kognita checkpoint show'")
    }
}

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "The network's signed checkpoints.", subcommands: [CheckpointShowCommand.self])
}

struct CheckpointShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Fetch a checkpoint and the chain before it, verify them from genesis, and print it.",
        discussion: "Every header must be signed by more than 2/3 of the weight of the committee its predecessor named, back to the genesis committee; the command fails otherwise.")

    @Argument(help: ArgumentHelp("The epoch whose checkpoint to show (default: the latest).", valueName: "epoch"))
    var epoch: UInt64?
    @Option(name: .long, help: ArgumentHelp("The network's genesis.toml: the root of trust the chain is checked against.", valueName: "path"))
    var genesis: String
    @OptionGroup var node: NodeOption
    @Flag(name: .long, help: "Print the checkpoint as JSON.")
    var json = false

    func run() throws {
        let genesis = try Node.loadGenesis(self.genesis)
        let api = try node.api()
        let wanted = epoch
        let chain: [SignedCheckpoint] = try blocking {
            let last: UInt64
            if let wanted { last = wanted } else {
                guard let latest = try await api.checkpoint(nil) else { return [] }
                last = latest.epoch
            }
            var chain: [SignedCheckpoint] = []
            for number in 0...last {
                guard let checkpoint = try await api.signedCheckpoint(number) else {
                    throw CLIError("the node has no checkpoint of epoch \(number)\(number == last ? "" : " (it must have every one up to \(last))")")
                }
                chain.append(checkpoint)
            }
            return chain
        }
        guard let checkpoint = chain.last else { throw CLIError("the network has no checkpoint yet: the first comes at the end of epoch 0") }
        let genesisCommittee: Committee
        do { genesisCommittee = try genesis.committee() } catch { throw CLIError("the genesis committee is not valid: \(error)") }
        do throws(LedgerError) {
            _ = try CheckpointChain.verify(chain, genesisDigest: genesis.digest, genesisCommittee: genesisCommittee)
        } catch {
            throw CLIError("the chain the node serves does not verify against \(self.genesis): \(error)")
        }
        let response = CheckpointResponse(checkpoint)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            return print(String(decoding: try encoder.encode(response), as: UTF8.self))
        }
        let header = checkpoint.header
        let signedBy = checkpoint.signatures.count
        let committee = chain.count >= 2 ? try? chain[chain.count - 2].header.committee() : genesisCommittee
        print("checkpoint  epoch \(header.epoch), verified from genesis (\(chain.count) headers)")
        print("digest      \(header.digest.hex)")
        print("previous    \(header.previous.hex)")
        print("time        \(header.timestamp) ms (\(Date(timeIntervalSince1970: Double(header.timestamp) / 1000)))")
        print("state root  \(header.stateRoot.hex)")
        print("signed by   \(signedBy) of \(committee?.validators.count ?? 0) validators in round \(checkpoint.round)")
        print("next committee (epoch \(header.epoch + 1)):")
        for validator in header.nextCommittee { print("  \(validator.id.hex)  weight \(validator.weight)") }
    }
}

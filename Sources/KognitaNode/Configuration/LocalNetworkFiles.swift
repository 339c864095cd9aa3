import KognitaCore
import KognitaLedger
import KognitaSystem
#if canImport(Glibc)
import Glibc
#endif

/// The files of a new network whose validators run on one host: the genesis,
/// each validator's identity key and node config, and the faucet key. What
/// `kognita genesis new` writes, and how the devnet and the tests make their
/// networks: one library call, so there is one way to make a network.
///
/// Layout of `directory`:
/// - `genesis.toml`: the network id, the validators (id, weight, peer address), the allocations
/// - `faucet.key`: the faucet account's key (0600); the faucet holds the whole supply
/// - `validator-N/identity.key`: validator N's Ed25519 identity (0600)
/// - `validator-N/node.toml`: peer port `basePort + N`, HTTP port `apiBasePort + N` on
///   127.0.0.1; validator-1 serves the faucet (`POST /v1/faucet`)
public struct LocalNetworkFiles: Sendable {
    /// What to make.
    public struct Plan: Sendable {
        public var network: NetworkID
        public var validators: Int
        public var directory: String
        public var basePort: Int
        public var apiBasePort: Int
        /// The host validators listen on and are reached at.
        public var host: String
        /// Base units the faucet starts with (the supply, apart from the bonds).
        public var faucetAmount: UInt64
        /// Each genesis validator's bond, in base units.
        public var validatorBond: UInt64
        /// Epoch length, committee size, evidence window and least bond.
        public var rules: EpochRules
        /// When epoch 0 began (ms since 1970); 0 means when the files are made.
        public var startMillis: UInt64
        /// The least fee of a batch, in base units (fees pay validators and bridges).
        public var minimumFee: UInt64 = 0

        public init(network: NetworkID, validators: Int, directory: String, basePort: Int = 7400, apiBasePort: Int = 8400,
                    host: String = "127.0.0.1", faucetAmount: UInt64 = 1_000_000_000_000_000,
                    validatorBond: UInt64 = 1_000_000, rules: EpochRules = EpochRules(), startMillis: UInt64 = 0) {
            self.validatorBond = validatorBond
            self.rules = rules
            self.startMillis = startMillis
            self.network = network
            self.validators = validators
            self.directory = directory
            self.basePort = basePort
            self.apiBasePort = apiBasePort
            self.host = host
            self.faucetAmount = faucetAmount
        }
    }

    /// One validator's files and addresses.
    public struct Validator: Sendable {
        public let identity: PublicKey
        /// Its directory (`validator-N`), with identity.key, node.toml and data/.
        public let home: String
        public var configPath: String { "\(home)/node.toml" }
        public let peerAddress: String
        /// Its HTTP API.
        public let apiURL: String
    }

    public let plan: Plan
    public let genesis: Genesis
    public let faucet: PublicKey
    public let validators: [Validator]
    public var genesisPath: String { "\(plan.directory)/genesis.toml" }
    public var faucetKeyPath: String { "\(plan.directory)/faucet.key" }

    /// Writes the network's files into `plan.directory` (made if missing; it
    /// must not hold a genesis yet).
    public static func make(_ plan: Plan) throws(NetworkFilesError) -> LocalNetworkFiles {
        guard (1...64).contains(plan.validators) else { throw NetworkFilesError("a network has from 1 to 64 validators, not \(plan.validators)") }
        guard plan.basePort > 0, plan.apiBasePort > 0, plan.basePort + plan.validators <= 65535, plan.apiBasePort + plan.validators <= 65535 else {
            throw NetworkFilesError("the ports do not fit below 65536; choose a lower base port or API base port")
        }
        guard plan.faucetAmount >= 1, plan.faucetAmount <= UInt64(Int64.max) else {
            throw NetworkFilesError("the faucet amount must be from 1 to \(Int64.max)")
        }
        var plan = plan
        if plan.directory.hasSuffix("/") && plan.directory.count > 1 { plan.directory.removeLast() }
        let directory = plan.directory
        let genesisPath = "\(directory)/genesis.toml"
        if access(genesisPath, F_OK) == 0 {
            throw NetworkFilesError("\(genesisPath) already exists; choose another directory (a genesis is never overwritten)")
        }
        try makeDirectory(directory, mode: 0o755)
        let faucet = SigningKey()
        try saveKey(faucet, to: "\(directory)/faucet.key")
        var entries: [Genesis.ValidatorEntry] = []
        var validators: [Validator] = []
        for number in 1...plan.validators {
            let identity = SigningKey()
            let home = "\(directory)/validator-\(number)"
            try makeDirectory(home, mode: 0o700)
            try saveKey(identity, to: "\(home)/identity.key")
            let peerAddress = "\(plan.host):\(plan.basePort + number)"
            entries.append(.init(id: identity.publicKey, bond: plan.validatorBond, address: peerAddress))
            validators.append(Validator(identity: identity.publicKey, home: home, peerAddress: peerAddress,
                                        apiURL: "http://127.0.0.1:\(plan.apiBasePort + number)"))
            try write(nodeConfig(number: number, plan: plan, home: home), to: "\(home)/node.toml", mode: 0o644)
        }
        let start = plan.startMillis != 0 ? plan.startMillis : WallClock.unixMillis()
        let genesis = Genesis(network: plan.network, minimumFee: Amount(plan.minimumFee), rules: plan.rules, startMillis: start, validators: entries,
                              allocations: [.init(account: faucet.publicKey, amount: Amount(plan.faucetAmount))], faucet: faucet.publicKey)
        try write(genesis.toml, to: genesisPath, mode: 0o644)
        return LocalNetworkFiles(plan: plan, genesis: genesis, faucet: faucet.publicKey, validators: validators)
    }

    /// What was made, for people (`kognita genesis new` prints it).
    public var summary: [String] {
        var lines = [
            "genesis of \(plan.network) with \(plan.validators) validator\(plan.validators == 1 ? "" : "s") in \(plan.directory)",
            "  genesis digest      \(genesis.digest.hex)   (docs/EPOCHS.md section 1: over the content, not the file)",
            "  faucet account      \(faucet.hex) holds \(plan.faucetAmount)",
        ]
        for (number, validator) in validators.enumerated() {
            lines.append("  validator-\(number + 1)         \(validator.identity.hex) peers at \(validator.peerAddress), HTTP on \(validator.apiURL.dropFirst("http://".count))")
        }
        return lines
    }

    private static func nodeConfig(number: Int, plan: Plan, home: String) -> String {
        // Only one node serves the faucet: two signers of one account could
        // sign two batches at one seq and freeze it.
        let faucetSection = number == 1 ? """
            [faucet]
            key = "file:../faucet.key"
            """ : """
            # The faucet is served by validator-1 only.
            """
        return """
            # Node configuration of validator \(number) of \(plan.network) (made by kognita genesis new).
            # Run it with: kognita-node --config \(home)/node.toml
            # Relative paths are relative to this file's directory. Config/node.toml documents every key.

            [node]
            identity = "file:identity.key"
            genesis = "../genesis.toml"
            data_directory = "data"

            [peer]
            listen = "\(plan.host):\(plan.basePort + number)"

            [api]
            listen = "127.0.0.1:\(plan.apiBasePort + number)"

            \(faucetSection)

            """
    }

    private static func makeDirectory(_ path: String, mode: mode_t) throws(NetworkFilesError) {
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw NetworkFilesError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
    }

    private static func saveKey(_ key: SigningKey, to path: String) throws(NetworkFilesError) {
        do throws(FileError) { try KeyFile.save(key, to: path, replace: false) } catch {
            throw NetworkFilesError("cannot write \(path): \(error)")
        }
    }

    private static func write(_ text: String, to path: String, mode: mode_t) throws(NetworkFilesError) {
        do throws(FileError) { try FileIO.writeAtomically(Array(text.utf8), to: path, mode: mode, replace: false) } catch {
            throw NetworkFilesError("cannot write \(path): \(error)")
        }
    }
}

/// A network's files could not be made: what and what to do.
public struct NetworkFilesError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

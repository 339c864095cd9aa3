import KognitaCore
import KognitaLedger
import KognitaSystem

/// A network's starting point, shared by every node: its id, the epoch
/// settings, the validators of epoch 0 (identity, bond, peer address), the
/// initial allocations and, on test networks, the faucet account. Kept as
/// `genesis.toml`.
public struct Genesis: Sendable, Hashable {
    public struct ValidatorEntry: Sendable, Hashable {
        public var id: PublicKey
        /// Its bonded stake at genesis, in base units, held by the account
        /// of the same key. Its voting weight is the bond, capped so that no
        /// validator holds a third of the weight (``Election/cappedWeights(_:)``).
        public var bond: UInt64
        /// `host:port` of its peer listener.
        public var address: String

        public init(id: PublicKey, bond: UInt64, address: String) {
            self.id = id
            self.bond = bond
            self.address = address
        }
    }

    public struct Allocation: Sendable, Hashable {
        public var account: AccountID
        public var amount: Amount

        public init(account: AccountID, amount: Amount) {
            self.account = account
            self.amount = amount
        }
    }

    public var network: NetworkID
    public var minimumFee: Amount
    /// Epoch length, committee size, evidence window, least bond, clock bound.
    public var rules: EpochRules
    /// When epoch 0 began, in ms since the Unix epoch: it ends `epoch_seconds` later.
    public var startMillis: UInt64
    public var validators: [ValidatorEntry]
    public var allocations: [Allocation]
    /// The account `POST /v1/faucet` pays from, when the network has a faucet.
    public var faucet: AccountID?

    public init(network: NetworkID, minimumFee: Amount = .zero, rules: EpochRules = EpochRules(), startMillis: UInt64 = 0,
                validators: [ValidatorEntry], allocations: [Allocation], faucet: AccountID? = nil) {
        self.network = network
        self.minimumFee = minimumFee
        self.rules = rules
        self.startMillis = startMillis
        self.validators = validators
        self.allocations = allocations
        self.faucet = faucet
    }

    /// The committee of epoch 0: the validators weighted by their capped bonds.
    public func committee() throws(LedgerError) -> Committee {
        let weights = Election.cappedWeights(validators.map(\.bond))
        return try Committee(network: network, epoch: 0, validators: zip(validators, weights).map { Validator(id: $0.id, weight: $1) })
    }

    /// The ledger at genesis: the allocations, and each validator's bond
    /// with a registration of its node at its genesis address. Genesis
    /// itself vouches for those registrations, so their node signature is
    /// all zeros (no batch ever carries one: batches are checked for a real
    /// signature).
    public func authority() throws(LedgerError) -> Authority {
        try Authority.genesis(committee: committee(), minimumFee: minimumFee, rules: rules,
                              allocations: allocations.map { ($0.account, $0.amount) }, stakes: stakes)
    }

    /// The genesis validators' stakes, by account (the validator's own key).
    public var stakes: [AccountID: Stake] {
        var stakes: [AccountID: Stake] = [:]
        for validator in validators {
            let registration = Registration(node: validator.id, addresses: [validator.address],
                                            nodeSignature: try! Signature(bytes: [UInt8](repeating: 0, count: Signature.byteCount)))
            stakes[validator.id] = Stake(bonded: validator.bond, candidate: registration, lastSeated: 0)
        }
        return stakes
    }

    /// The total money of the network, bonds included (it never changes:
    /// fees go to the pool). ``parse(_:)`` refuses totals that overflow, so this cannot.
    public var supply: Amount {
        do throws(AmountError) { return try Amount.sum(allocations.map(\.amount) + validators.map { Amount($0.bond) }) } catch {
            preconditionFailure("the genesis allocations and bonds overflow: \(error)")
        }
    }

    /// A digest of the content (not of the file's text, so comments and
    /// layout do not matter): nodes refuse peers and databases of another genesis.
    public var digest: Bytes32 {
        var writer = CBORWriter(reservingCapacity: 256)
        writer.writeArrayHeader(6)
        writer.writeText(network.rawValue)
        writer.writeUnsigned(minimumFee.baseUnits)
        writer.writeArrayHeader(6)
        writer.writeUnsigned(rules.epochMillis)
        writer.writeUnsigned(UInt64(rules.committeeSize))
        writer.writeUnsigned(rules.evidenceEpochs)
        writer.writeUnsigned(rules.minimumBond.baseUnits)
        writer.writeUnsigned(rules.maxClockSkewMillis)
        writer.writeUnsigned(startMillis)
        writer.writeArrayHeader(validators.count)
        for validator in validators {
            writer.writeArrayHeader(3)
            writer.writeBytes(validator.id.rawValue)
            writer.writeUnsigned(validator.bond)
            writer.writeText(validator.address)
        }
        writer.writeArrayHeader(allocations.count)
        for allocation in allocations {
            writer.writeArrayHeader(2)
            writer.writeBytes(allocation.account.rawValue)
            writer.writeUnsigned(allocation.amount.baseUnits)
        }
        if let faucet { writer.writeBytes(faucet.rawValue) } else { writer.writeUnsigned(0) }
        return BLAKE2b256.hash(writer.bytes)
    }

    /// Parses `genesis.toml`, reporting every problem by key.
    public static func parse(_ text: String) -> Result<Genesis, ConfigurationErrors> {
        var reader: ConfigReader
        switch ConfigReader.parsing(text) {
        case .success(let parsed): reader = parsed
        case .failure(let errors): return .failure(errors)
        }
        var network: NetworkID?
        if let id = reader.string("network", "id") {
            do throws(ProtocolError) { network = try NetworkID(id) } catch { reader.fail("network.id", error.message) }
        } else {
            reader.fail("network.id", "the network id is required")
        }
        let minimumFee = Amount(reader.unsigned("network", "minimum_fee") ?? 0)
        var faucet: AccountID?
        if let hex = reader.string("network", "faucet") {
            faucet = try? AccountID(hex: hex)
            if faucet == nil { reader.fail("network.faucet", "must be an account id: 64 hex characters") }
        }
        var rules = EpochRules()
        if let seconds = reader.unsigned("epochs", "epoch_seconds", range: 1...(366 * 86_400)) { rules.epochMillis = seconds * 1000 }
        if let size = reader.unsigned("epochs", "committee_size", range: UInt64(EpochRules.minimumCommitteeSize)...UInt64(Committee.maxValidators)) {
            rules.committeeSize = Int(size)
        }
        if let evidence = reader.unsigned("epochs", "evidence_epochs", range: 1...1_000) { rules.evidenceEpochs = evidence }
        if let bond = reader.unsigned("epochs", "minimum_bond", range: 1...UInt64(Int64.max)) { rules.minimumBond = Amount(bond) }
        if let skew = reader.unsigned("epochs", "max_clock_skew_ms", range: 0...600_000) { rules.maxClockSkewMillis = skew }
        let startMillis = reader.unsigned("epochs", "start_ms") ?? 0
        var validators: [ValidatorEntry] = []
        for (index, table) in reader.tables("validator").enumerated() {
            let at = "validator[\(index)]"
            guard let hex = reader.string(table, at, "id"), let id = try? PublicKey(hex: hex) else {
                reader.fail("\(at).id", "must be the validator's identity key: 64 hex characters"); continue
            }
            guard let address = reader.string(table, at, "address"), PeerAddress(address) != nil else {
                reader.fail("\(at).address", "must be host:port of the validator's peer listener"); continue
            }
            // `weight` is the name genesis files used before bonds.
            let bond = reader.unsigned(table, at, "bond", range: 1...UInt64(Int64.max))
                ?? reader.unsigned(table, at, "weight", range: 1...UInt64(Int64.max)) ?? 1
            validators.append(ValidatorEntry(id: id, bond: bond, address: address))
        }
        if validators.isEmpty { reader.fail("validator", "a network needs at least one [[validator]]") }
        if Set(validators.map(\.id)).count != validators.count { reader.fail("validator", "a validator is listed twice") }
        var allocations: [Allocation] = []
        var total: UInt64 = 0
        for validator in validators {
            let (sum, overflow) = total.addingReportingOverflow(validator.bond)
            guard !overflow else { reader.fail("validator", "the bonds add up to more than \(UInt64.max)"); break }
            total = sum
        }
        for (index, table) in reader.tables("allocation").enumerated() {
            let at = "allocation[\(index)]"
            guard let hex = reader.string(table, at, "account"), let account = try? AccountID(hex: hex) else {
                reader.fail("\(at).account", "must be an account id: 64 hex characters"); continue
            }
            guard let amount = reader.unsigned(table, at, "amount", range: 1...UInt64(Int64.max)) else {
                reader.fail("\(at).amount", "must be a whole number of base units, at least 1"); continue
            }
            let (sum, overflow) = total.addingReportingOverflow(amount)
            guard !overflow else { reader.fail("\(at).amount", "the allocations add up to more than \(UInt64.max)"); continue }
            total = sum
            allocations.append(Allocation(account: account, amount: Amount(amount)))
        }
        reader.rejectUnknownKeys()
        guard reader.errors.isEmpty, let network else { return .failure(ConfigurationErrors(reader.errors)) }
        return .success(Genesis(network: network, minimumFee: minimumFee, rules: rules, startMillis: startMillis,
                                validators: validators, allocations: allocations, faucet: faucet))
    }

    /// The file `kognita genesis new` writes: documented, and parsed back to
    /// the same genesis.
    public var toml: String {
        var text = """
            # Kognita genesis: the network's starting point. Every node of the
            # network uses this same file; its digest is checked on every peer
            # connection and against each node's database.

            [network]
            id = "\(network)"
            minimum_fee = \(minimumFee)                             # base units a batch must offer
            """
        if let faucet { text += "\nfaucet = \"\(faucet.hex)\"   # POST /v1/faucet pays from this account" }
        text += """


            [epochs]                                  # docs/EPOCHS.md
            epoch_seconds = \(rules.epochMillis / 1000)             # an epoch ends this long after the last checkpoint's time
            committee_size = \(rules.committeeSize)                 # the most seats on a committee (at least 4)
            evidence_epochs = \(rules.evidenceEpochs)                # epochs evidence stays admissible; unbonded stake waits as long
            minimum_bond = \(rules.minimumBond)                   # base units a candidate must have bonded
            max_clock_skew_ms = \(rules.maxClockSkewMillis)          # how far ahead of a validator's clock a checkpoint time may be
            start_ms = \(startMillis)                   # when epoch 0 began (ms since 1970)

            """
        for validator in validators {
            text += "\n[[validator]]\nid = \"\(validator.id.hex)\"\nbond = \(validator.bond)                # bonded stake: the voting weight\naddress = \"\(validator.address)\"\n"
        }
        for allocation in allocations {
            text += "\n[[allocation]]\naccount = \"\(allocation.account.hex)\"\namount = \(allocation.amount)\n"
        }
        return text
    }
}

/// A `host:port` address.
public struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    /// Parses `host:port` (an IPv6 host in brackets: `[::1]:7400`).
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port), !host.isEmpty else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

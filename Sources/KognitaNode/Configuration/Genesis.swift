import KognitaCore
import KognitaLedger
import KognitaSystem

/// A network's starting point, shared by every node: its id, the validators
/// of epoch 0 (identity, weight, peer address), the initial allocations and,
/// on test networks, the faucet account. Kept as `genesis.toml`.
public struct Genesis: Sendable, Hashable {
    public struct ValidatorEntry: Sendable, Hashable {
        public var id: PublicKey
        public var weight: UInt64
        /// `host:port` of its peer listener.
        public var address: String

        public init(id: PublicKey, weight: UInt64, address: String) {
            self.id = id
            self.weight = weight
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
    public var validators: [ValidatorEntry]
    public var allocations: [Allocation]
    /// The account `POST /v1/faucet` pays from, when the network has a faucet.
    public var faucet: AccountID?

    public init(network: NetworkID, minimumFee: Amount = .zero, validators: [ValidatorEntry], allocations: [Allocation], faucet: AccountID? = nil) {
        self.network = network
        self.minimumFee = minimumFee
        self.validators = validators
        self.allocations = allocations
        self.faucet = faucet
    }

    /// The committee of epoch 0.
    public func committee() throws(LedgerError) -> Committee {
        try Committee(network: network, epoch: 0, validators: validators.map { Validator(id: $0.id, weight: $0.weight) })
    }

    /// The ledger at genesis.
    public func authority() throws(LedgerError) -> Authority {
        try Authority.genesis(committee: committee(), minimumFee: minimumFee, allocations: allocations.map { ($0.account, $0.amount) })
    }

    /// The total money of the network (it never changes: fees go to the pool).
    /// ``parse(_:)`` refuses allocations that overflow, so this cannot.
    public var supply: Amount {
        do throws(AmountError) { return try Amount.sum(allocations.map(\.amount)) } catch {
            preconditionFailure("the genesis allocations overflow: \(error)")
        }
    }

    /// A digest of the content (not of the file's text, so comments and
    /// layout do not matter): nodes refuse peers and databases of another genesis.
    public var digest: Bytes32 {
        var writer = CBORWriter(reservingCapacity: 256)
        writer.writeArrayHeader(5)
        writer.writeText(network.rawValue)
        writer.writeUnsigned(minimumFee.baseUnits)
        writer.writeArrayHeader(validators.count)
        for validator in validators {
            writer.writeArrayHeader(3)
            writer.writeBytes(validator.id.rawValue)
            writer.writeUnsigned(validator.weight)
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
        var validators: [ValidatorEntry] = []
        for (index, table) in reader.tables("validator").enumerated() {
            let at = "validator[\(index)]"
            guard let hex = reader.string(table, at, "id"), let id = try? PublicKey(hex: hex) else {
                reader.fail("\(at).id", "must be the validator's identity key: 64 hex characters"); continue
            }
            guard let address = reader.string(table, at, "address"), PeerAddress(address) != nil else {
                reader.fail("\(at).address", "must be host:port of the validator's peer listener"); continue
            }
            let weight = reader.unsigned(table, at, "weight", range: 1...1_000_000) ?? 1
            validators.append(ValidatorEntry(id: id, weight: weight, address: address))
        }
        if validators.isEmpty { reader.fail("validator", "a network needs at least one [[validator]]") }
        if Set(validators.map(\.id)).count != validators.count { reader.fail("validator", "a validator is listed twice") }
        var allocations: [Allocation] = []
        var total: UInt64 = 0
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
        return .success(Genesis(network: network, minimumFee: minimumFee, validators: validators, allocations: allocations, faucet: faucet))
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
        text += "\n"
        for validator in validators {
            text += "\n[[validator]]\nid = \"\(validator.id.hex)\"\nweight = \(validator.weight)\naddress = \"\(validator.address)\"\n"
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

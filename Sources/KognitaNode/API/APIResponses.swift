import KognitaCore
import KognitaLedger

// The node's HTTP API as values: what the node sends, and what the CLI, the
// devnet and the tests read back. One definition for both ends, so a field
// cannot be renamed on one side only. The JSON field names are a contract
// (scripts read them): each type spells them out in its CodingKeys.

/// `GET /v1/status`: one consistent snapshot of the node.
public struct NodeStatusResponse: Codable, Sendable, Hashable {
    /// The node's identity (hex public key).
    public var node: String
    public var network: String
    /// The genesis digest (hex).
    public var genesis: String
    public var epoch: UInt64
    /// "validator" or "full node".
    public var role: String
    /// Whether the startup catch-up is done (before it, the node takes no submissions).
    public var ready: Bool
    public var committee: [CommitteeMember]
    public var validatorsConnected: Int
    public var validatorsExpected: Int
    public var peers: [Peer]
    /// Bridges and other clients connected over the peer protocol.
    public var clients: Int
    public var ledger: Ledger
    public var counters: Counters
    /// The faucet's account, on the node that serves one.
    public var faucet: String?
    /// Where the current epoch stands (docs/EPOCHS.md).
    public var epochState: EpochState?

    /// The current epoch and the last checkpoint.
    public struct EpochState: Codable, Sendable, Hashable {
        /// When the epoch ends by the clocks (ms since 1970), and how long until then (0 once past).
        public var endsAtMillis: UInt64
        public var endsInMillis: UInt64
        /// Whether this validator has sealed the epoch (the checkpoint is being agreed).
        public var sealed: Bool
        /// The agreement's round (rounds beyond 0 mean a leader failed).
        public var round: UInt32
        public var lastCheckpoint: CheckpointResponse?

        public init(endsAtMillis: UInt64, endsInMillis: UInt64, sealed: Bool, round: UInt32, lastCheckpoint: CheckpointResponse?) {
            self.endsAtMillis = endsAtMillis
            self.endsInMillis = endsInMillis
            self.sealed = sealed
            self.round = round
            self.lastCheckpoint = lastCheckpoint
        }

        enum CodingKeys: String, CodingKey {
            case sealed, round
            case endsAtMillis = "ends_at_ms"
            case endsInMillis = "ends_in_ms"
            case lastCheckpoint = "last_checkpoint"
        }
    }

    /// A member of the committee, as this node sees it.
    public struct CommitteeMember: Codable, Sendable, Hashable {
        public var id: String
        public var weight: UInt64
        public var address: String
        /// Whether this node has a link to it; nil for the node itself.
        public var connected: Bool?
        public var isSelf: Bool

        public init(id: String, weight: UInt64, address: String, connected: Bool?, isSelf: Bool) {
            self.id = id
            self.weight = weight
            self.address = address
            self.connected = connected
            self.isSelf = isSelf
        }

        enum CodingKeys: String, CodingKey {
            case id, weight, address, connected
            case isSelf = "self"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(weight, forKey: .weight)
            try container.encode(address, forKey: .address)
            // null for the node itself, as the API has always said.
            try container.encode(connected, forKey: .connected)
            try container.encode(isSelf, forKey: .isSelf)
        }
    }

    /// A peer link: another node or a client.
    public struct Peer: Codable, Sendable, Hashable {
        public var id: String
        public var role: String
        public var address: String

        public init(id: String, role: String, address: String) {
            self.id = id
            self.role = role
            self.address = address
        }
    }

    /// The ledger's summary.
    public struct Ledger: Codable, Sendable, Hashable {
        public var accounts: Int
        /// The state digest (hex): equal on nodes that applied the same certificates.
        public var digest: String
        /// Balances plus the fee pool, base units: the supply when money is conserved.
        public var totalMoney: UInt64
        public var supply: UInt64
        public var feePool: UInt64
        /// Batches known here and not yet final.
        public var pendingBatches: Int

        public init(accounts: Int, digest: String, totalMoney: UInt64, supply: UInt64, feePool: UInt64, pendingBatches: Int) {
            self.accounts = accounts
            self.digest = digest
            self.totalMoney = totalMoney
            self.supply = supply
            self.feePool = feePool
            self.pendingBatches = pendingBatches
        }

        enum CodingKeys: String, CodingKey {
            case accounts, digest, supply
            case totalMoney = "total_money"
            case feePool = "fee_pool"
            case pendingBatches = "pending_batches"
        }
    }

    /// Counts since the node started.
    public struct Counters: Codable, Sendable, Hashable {
        public var batchesReceived: Int
        public var batchesFinal: Int
        public var transfersFinal: Int
        public var votesSent: Int
        public var certificatesFormed: Int
        public var rejected: Int
        public var catchUpBatches: Int

        public init(batchesReceived: Int, batchesFinal: Int, transfersFinal: Int, votesSent: Int, certificatesFormed: Int,
                    rejected: Int, catchUpBatches: Int) {
            self.batchesReceived = batchesReceived
            self.batchesFinal = batchesFinal
            self.transfersFinal = transfersFinal
            self.votesSent = votesSent
            self.certificatesFormed = certificatesFormed
            self.rejected = rejected
            self.catchUpBatches = catchUpBatches
        }

        enum CodingKeys: String, CodingKey {
            case rejected
            case batchesReceived = "batches_received"
            case batchesFinal = "batches_final"
            case transfersFinal = "transfers_final"
            case votesSent = "votes_sent"
            case certificatesFormed = "certificates_formed"
            case catchUpBatches = "catch_up_batches"
        }
    }

    public init(node: String, network: String, genesis: String, epoch: UInt64, role: String, ready: Bool,
                committee: [CommitteeMember], validatorsConnected: Int, validatorsExpected: Int, peers: [Peer], clients: Int,
                ledger: Ledger, counters: Counters, faucet: String?, epochState: EpochState? = nil) {
        self.epochState = epochState
        self.node = node
        self.network = network
        self.genesis = genesis
        self.epoch = epoch
        self.role = role
        self.ready = ready
        self.committee = committee
        self.validatorsConnected = validatorsConnected
        self.validatorsExpected = validatorsExpected
        self.peers = peers
        self.clients = clients
        self.ledger = ledger
        self.counters = counters
        self.faucet = faucet
    }

    enum CodingKeys: String, CodingKey {
        case node, network, genesis, epoch, role, ready, committee, peers, clients, ledger, counters, faucet
        case epochState = "epoch_state"
        case validatorsConnected = "validators_connected"
        case validatorsExpected = "validators_expected"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(node, forKey: .node)
        try container.encode(network, forKey: .network)
        try container.encode(genesis, forKey: .genesis)
        try container.encode(epoch, forKey: .epoch)
        try container.encode(role, forKey: .role)
        try container.encode(ready, forKey: .ready)
        try container.encode(committee, forKey: .committee)
        try container.encode(validatorsConnected, forKey: .validatorsConnected)
        try container.encode(validatorsExpected, forKey: .validatorsExpected)
        try container.encode(peers, forKey: .peers)
        try container.encode(clients, forKey: .clients)
        try container.encode(ledger, forKey: .ledger)
        try container.encode(counters, forKey: .counters)
        // null on a node without a faucet, as the API has always said.
        try container.encode(faucet, forKey: .faucet)
        try container.encodeIfPresent(epochState, forKey: .epochState)
    }
}

/// `GET /v1/checkpoints/latest` and `/v1/checkpoints/{epoch}` (JSON; the
/// signed CBOR with `Accept: application/cbor`): a checkpoint header, the
/// round that decided it and who signed.
public struct CheckpointResponse: Codable, Sendable, Hashable {
    public var epoch: UInt64
    /// BLAKE2b-256 of the header (hex): what the committee signed.
    public var digest: String
    public var previous: String
    public var timestamp: UInt64
    public var stateRoot: String
    public var bodies: [Body]
    public var nextCommittee: [Member]
    public var round: UInt32
    /// The validators whose commit signatures it carries (hex ids).
    public var signers: [String]
    /// When the answering node adopted it (ms since 1970); local to that node, not signed.
    public var adoptedAtMillis: UInt64?
    /// The closing epoch's measures and every rated node's rating (body 7), when the node holds it.
    public var ratings: [Rating]?
    /// What the checkpoint paid the closing epoch's validators (body 8), when the node holds it.
    public var rewards: [Reward]?
    /// The fee pool left and everything burned since genesis, after this checkpoint (body 4).
    public var feePool: UInt64?
    public var burned: UInt64?

    public struct Rating: Codable, Sendable, Hashable {
        public var node: String
        /// Permille: 1000 is perfect; below 700 the node cannot be elected.
        public var rating: UInt64
        /// Its measure in the closing epoch (nil when it was not on that committee, or the epoch was not measured).
        public var measure: UInt64?
        public var slashed: Bool
        public var window: [UInt64]
        public init(node: String, rating: UInt64, measure: UInt64?, slashed: Bool, window: [UInt64]) {
            self.node = node
            self.rating = rating
            self.measure = measure
            self.slashed = slashed
            self.window = window
        }
    }

    public struct Reward: Codable, Sendable, Hashable {
        public var node: String
        public var account: String
        public var amount: UInt64
        public init(node: String, account: String, amount: UInt64) {
            self.node = node
            self.account = account
            self.amount = amount
        }
    }

    public struct Body: Codable, Sendable, Hashable {
        public var kind: UInt64
        public var root: String
        public init(kind: UInt64, root: String) {
            self.kind = kind
            self.root = root
        }
    }

    public struct Member: Codable, Sendable, Hashable {
        public var id: String
        public var weight: UInt64
        public init(id: String, weight: UInt64) {
            self.id = id
            self.weight = weight
        }
    }

    public init(_ checkpoint: SignedCheckpoint, adoptedAtMillis: UInt64? = nil, bodies stored: [CheckpointBodies.Kind: [UInt8]] = [:]) {
        self.adoptedAtMillis = adoptedAtMillis
        if let bytes = stored[.ratings], let body = try? RatingsBody(decoding: bytes) {
            let nodes = Set(body.book.records.keys).union(body.measures.keys).sorted()
            ratings = nodes.map { node in
                let record = body.book.records[node]
                return Rating(node: node.hex, rating: body.book.rating(of: node), measure: body.measures[node],
                              slashed: record?.slashed ?? false, window: record?.window.map(\.measure) ?? [])
            }
        }
        if let bytes = stored[.rewards], let body = try? EpochRewards(decoding: bytes) {
            rewards = body.payouts.map { Reward(node: $0.node.hex, account: $0.account.hex, amount: $0.amount) }
        }
        if let bytes = stored[.fees], let fees = try? CheckpointBodies.fees(decoding: bytes) {
            feePool = fees.pool
            burned = fees.burned
        }
        let header = checkpoint.header
        epoch = header.epoch
        digest = header.digest.hex
        previous = header.previous.hex
        timestamp = header.timestamp
        stateRoot = header.stateRoot.hex
        bodies = header.bodies.map { Body(kind: $0.kind, root: $0.root.hex) }
        nextCommittee = header.nextCommittee.map { Member(id: $0.id.hex, weight: $0.weight) }
        round = checkpoint.round
        signers = checkpoint.signatures.map(\.validator.hex)
    }

    enum CodingKeys: String, CodingKey {
        case epoch, digest, previous, timestamp, bodies, round, signers, ratings, rewards, burned
        case feePool = "fee_pool"
        case adoptedAtMillis = "adopted_at_ms"
        case stateRoot = "state_root"
        case nextCommittee = "next_committee"
    }
}

/// `GET /v1/accounts/{id}`: an account's head.
public struct AccountResponse: Codable, Sendable, Hashable {
    public var account: String
    /// The seq the account's next batch must carry.
    public var nextSeq: UInt64
    /// The id (hex) of its last final batch; all zeros before the first.
    public var lastFinal: String
    public var balance: UInt64

    public init(account: String, nextSeq: UInt64, lastFinal: String, balance: UInt64) {
        self.account = account
        self.nextSeq = nextSeq
        self.lastFinal = lastFinal
        self.balance = balance
    }

    enum CodingKeys: String, CodingKey {
        case account, balance
        case nextSeq = "next_seq"
        case lastFinal = "last_final"
    }
}

/// `GET /v1/batches/{id}`: the final batches with this id (two accounts may
/// sign byte-identical payloads, so there can be more than one).
public struct BatchLookupResponse: Codable, Sendable, Hashable {
    /// Always "final" (an unknown batch is a 404 ``ErrorResponse``).
    public var status: String
    public var id: String
    public var batches: [FinalBatch]

    public struct FinalBatch: Codable, Sendable, Hashable {
        public var account: String
        public var seq: UInt64
        public var transfers: Int
        public var fee: UInt64
        /// When this node applied it, ms since the Unix epoch.
        public var appliedAt: UInt64
        /// The certificate (hex CBOR).
        public var certificate: String

        public init(account: String, seq: UInt64, transfers: Int, fee: UInt64, appliedAt: UInt64, certificate: String) {
            self.account = account
            self.seq = seq
            self.transfers = transfers
            self.fee = fee
            self.appliedAt = appliedAt
            self.certificate = certificate
        }

        enum CodingKeys: String, CodingKey {
            case account, seq, transfers, fee, certificate
            case appliedAt = "applied_at"
        }
    }

    public init(id: String, batches: [FinalBatch]) {
        status = "final"
        self.id = id
        self.batches = batches
    }
}

/// `POST /v1/batches` and `POST /v1/faucet`: the network's answer about one
/// batch, the ack of the device contract as JSON.
public struct AckResponse: Codable, Sendable, Hashable {
    /// "accepted", "final", "rejected" or "head".
    public var status: String
    public var id: String?
    public var seq: UInt64?
    /// The contract's reason name, when rejected.
    public var error: String?
    public var detail: String?
    public var head: Head?
    /// The certificate (hex CBOR), when final.
    public var certificate: String?

    /// The account's head, sent with a stale or head answer.
    public struct Head: Codable, Sendable, Hashable {
        public var nextSeq: UInt64
        public var lastFinal: String
        public var balance: UInt64

        public init(nextSeq: UInt64, lastFinal: String, balance: UInt64) {
            self.nextSeq = nextSeq
            self.lastFinal = lastFinal
            self.balance = balance
        }

        enum CodingKeys: String, CodingKey {
            case balance
            case nextSeq = "next_seq"
            case lastFinal = "last_final"
        }
    }

    public init(status: String, id: String? = nil, seq: UInt64? = nil, error: String? = nil, detail: String? = nil, head: Head? = nil,
                certificate: String? = nil) {
        self.status = status
        self.id = id
        self.seq = seq
        self.error = error
        self.detail = detail
        self.head = head
        self.certificate = certificate
    }

    /// The JSON form of a contract ack; `note` is added to its detail.
    public init(_ ack: Ack, note: String? = nil) {
        status = ack.status.description
        id = ack.id?.rawValue.hex
        seq = ack.seq
        error = ack.reason?.name
        detail = [ack.detail, note].compactMap { $0 }.joined(separator: "; ")
        if detail?.isEmpty == true { detail = nil }
        head = ack.head.map { Head(nextSeq: $0.nextSeq, lastFinal: $0.lastFinal.rawValue.hex, balance: $0.balance.baseUnits) }
        certificate = ack.cert.map(Hex.encode)
    }
}

/// Every error the API answers with (4xx and 5xx).
public struct ErrorResponse: Codable, Sendable, Hashable, Error {
    /// A short reason name (the contract's, where one fits): "malformed", "unknown", ...
    public var error: String
    /// What went wrong and what to do, for a person.
    public var detail: String

    public init(error: String, detail: String) {
        self.error = error
        self.detail = detail
    }
}

/// `POST /v1/faucet`'s body.
public struct FaucetRequest: Codable, Sendable, Hashable {
    /// The account to pay (hex).
    public var account: String
    /// Base units, at least 1.
    public var amount: UInt64

    public init(account: String, amount: UInt64) {
        self.account = account
        self.amount = amount
    }
}


/// `GET /v1/validators`: every candidate (a registered node with a bond),
/// its bond, rating and record, its seats and its rewards per epoch.
public struct ValidatorsResponse: Codable, Sendable, Hashable {
    /// The epoch the node is in.
    public var epoch: UInt64
    public var validators: [Entry]

    public struct Entry: Codable, Sendable, Hashable {
        public var node: String
        /// The account that registered the node (bonds and is paid).
        public var account: String
        public var bonded: UInt64
        public var unbonding: UInt64
        /// Permille; below 700 the node cannot be elected; 750 with no record.
        public var rating: UInt64
        public var slashed: Bool
        /// Its weight in the current committee, when it sits.
        public var weight: UInt64?
        public var addresses: [String]
        /// Its measures in the epochs its record still holds.
        public var ratingHistory: [Measure]
        /// The epochs (of those the node keeps) whose committee seated it.
        public var committeeEpochs: [UInt64]
        /// What checkpoints paid it, by epoch (of those the node keeps).
        public var rewards: [Reward]

        public init(node: String, account: String, bonded: UInt64, unbonding: UInt64, rating: UInt64, slashed: Bool, weight: UInt64?,
                    addresses: [String], ratingHistory: [Measure], committeeEpochs: [UInt64], rewards: [Reward]) {
            self.node = node
            self.account = account
            self.bonded = bonded
            self.unbonding = unbonding
            self.rating = rating
            self.slashed = slashed
            self.weight = weight
            self.addresses = addresses
            self.ratingHistory = ratingHistory
            self.committeeEpochs = committeeEpochs
            self.rewards = rewards
        }

        enum CodingKeys: String, CodingKey {
            case node, account, bonded, unbonding, rating, slashed, weight, addresses, rewards
            case ratingHistory = "rating_history"
            case committeeEpochs = "committee_epochs"
        }
    }

    public struct Measure: Codable, Sendable, Hashable {
        public var epoch: UInt64
        public var measure: UInt64
        public init(epoch: UInt64, measure: UInt64) {
            self.epoch = epoch
            self.measure = measure
        }
    }

    public struct Reward: Codable, Sendable, Hashable {
        public var epoch: UInt64
        public var amount: UInt64
        public init(epoch: UInt64, amount: UInt64) {
            self.epoch = epoch
            self.amount = amount
        }
    }

    public init(epoch: UInt64, validators: [Entry]) {
        self.epoch = epoch
        self.validators = validators
    }
}

/// `POST /v1/evidence`: what became of a proof of equivocation.
public struct EvidenceResponse: Codable, Sendable, Hashable {
    /// "accepted": kept and gossiped; the next checkpoint slashes the offender.
    public var status: String
    public var offender: String
    public init(status: String, offender: String) {
        self.status = status
        self.offender = offender
    }
}

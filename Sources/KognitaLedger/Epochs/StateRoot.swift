import KognitaCore

/// A Merkle root over every account's state, so one account's balance and
/// stake can be proven against a checkpoint header.
///
/// The documented order (docs/EPOCHS.md): one leaf per account that has a
/// state or a stake, sorted by account id bytewise. A leaf hashes 0x00 and the
/// CBOR array `[account, next_seq, last_final, balance, bonded, unbonding,
/// unbonded_in, candidate_node, last_seated]`, where `balance` is an integer
/// (negative only transiently), `candidate_node` is the node key or an empty
/// byte string, and `last_seated` is the epoch + 1, or 0 for never. Inner
/// nodes are RFC 9162's, as for votes (``MerkleTree``). An empty ledger's
/// root is 32 zero bytes.
public struct StateRoot: Sendable {
    /// The accounts in leaf order.
    public let accounts: [AccountID]
    private let tree: MerkleTree?

    /// The root over `authority`'s accounts and stakes.
    public init(_ authority: Authority) {
        var ids = Set(authority.accounts.keys)
        ids.formUnion(authority.stakes.keys)
        accounts = ids.sorted()
        let leaves = accounts.map { Self.leafHash(account: $0, state: authority.state(of: $0), stake: authority.stakes[$0]) }
        tree = leaves.isEmpty ? nil : MerkleTree(leafHashes: leaves)
    }

    /// The root hash.
    public var root: Bytes32 { tree?.root ?? .zero }

    /// The proof that `account`'s leaf is in the tree, or nil when it has none.
    public func proof(for account: AccountID) -> AccountProof? {
        guard let tree, let index = binarySearch(account) else { return nil }
        return AccountProof(index: UInt32(index), count: UInt32(accounts.count), path: tree.path(for: index))
    }

    private func binarySearch(_ account: AccountID) -> Int? {
        var low = 0, high = accounts.count
        while low < high {
            let mid = (low + high) / 2
            if accounts[mid] < account { low = mid + 1 } else { high = mid }
        }
        return low < accounts.count && accounts[low] == account ? low : nil
    }

    /// The leaf bytes of one account.
    public static func leafBytes(account: AccountID, state: AccountState, stake: Stake?) -> [UInt8] {
        var writer = CBORWriter(reservingCapacity: 160)
        writer.writeArrayHeader(9)
        writer.writeBytes(account.rawValue)
        writer.writeUnsigned(state.nextSeq)
        writer.writeBytes(state.lastFinal.rawValue)
        if state.balance >= 0 {
            writer.writeUnsigned(state.balance > Int128(UInt64.max) ? UInt64.max : UInt64(state.balance))
        } else {
            writer.writeInt64(state.balance < Int128(Int64.min) ? Int64.min : Int64(state.balance))
        }
        writer.writeUnsigned(stake?.bonded ?? 0)
        writer.writeUnsigned(stake?.unbonding ?? 0)
        writer.writeUnsigned(stake?.unbondedIn ?? 0)
        if let node = stake?.candidate?.node { writer.writeBytes(node.rawValue) } else { writer.writeBytes([UInt8]()) }
        writer.writeUnsigned(stake?.lastSeated.map { $0 &+ 1 } ?? 0)
        return writer.bytes
    }

    static func leafHash(account: AccountID, state: AccountState, stake: Stake?) -> Bytes32 {
        MerkleTree.leafHash(of: leafBytes(account: account, state: state, stake: stake))
    }
}

/// Where an account's leaf sits in a state tree, and the hashes up to the root.
public struct AccountProof: Sendable, Hashable {
    public let index: UInt32
    public let count: UInt32
    public let path: [Bytes32]

    public init(index: UInt32, count: UInt32, path: [Bytes32]) {
        self.index = index
        self.count = count
        self.path = path
    }

    /// Whether the account's state and stake lead to `root` along this proof.
    public func verifies(account: AccountID, state: AccountState, stake: Stake?, root: Bytes32) -> Bool {
        MerkleTree.root(leafHash: StateRoot.leafHash(account: account, state: state, stake: stake),
                        index: Int(index), count: Int(count), path: path) == root
    }
}

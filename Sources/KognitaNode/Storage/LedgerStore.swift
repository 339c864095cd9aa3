import Foundation
import GRDB
import KognitaCore
import KognitaLedger

/// The node's durable ledger: SQLite in WAL mode through GRDB, with
/// `synchronous = FULL` so a committed transaction survives a power cut (a
/// lock must be on disk before its vote leaves). Everything the authority
/// holds in memory is here: accounts, locks, the fee pool, and every final
/// batch with its certificate.
///
/// Writes come in as ``LedgerChanges`` and are committed one transaction per
/// call; ``GroupCommitter`` merges concurrent changes into one call.
public final class LedgerStore: Sendable {
    private let pool: DatabasePool
    public let path: String

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        configuration.label = "kognita-ledger"
        self.path = path
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
                CREATE TABLE account (
                    id BLOB PRIMARY KEY, next_seq INTEGER NOT NULL, last_final BLOB NOT NULL, balance TEXT NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE lock (account BLOB PRIMARY KEY, seq INTEGER NOT NULL, batch_id BLOB NOT NULL) WITHOUT ROWID;
                CREATE TABLE final_batch (
                    account BLOB NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL,
                    envelope BLOB NOT NULL, certificate BLOB NOT NULL, applied_at INTEGER NOT NULL,
                    PRIMARY KEY (account, seq)
                ) WITHOUT ROWID;
                CREATE INDEX final_batch_by_id ON final_batch(id);
                """)
        }
        migrator.registerMigration("v2-epochs") { db in
            // Stake and candidates (docs/EPOCHS.md, section 7), and the locks
            // a checkpoint carried over, which bind every later committee.
            try db.execute(sql: """
                CREATE TABLE stake (
                    account BLOB PRIMARY KEY, bonded INTEGER NOT NULL, unbonding INTEGER NOT NULL,
                    unbonded_in INTEGER NOT NULL, last_seated INTEGER, registration BLOB
                ) WITHOUT ROWID;
                CREATE TABLE carried_lock (account BLOB PRIMARY KEY, seq INTEGER NOT NULL, ids BLOB NOT NULL) WITHOUT ROWID;
                """)
        }
        return migrator
    }

    // MARK: Genesis and loading

    /// The genesis digest this database was made for, if it was initialised.
    public func genesisDigest() throws -> Bytes32? {
        try pool.read { db in
            try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'genesis'").flatMap { try? Bytes32($0) }
        }
    }

    /// Writes the genesis state once: allocations become accounts. Refuses a
    /// database made for another genesis (a node pointed at the wrong data).
    public func initialise(genesisDigest: Bytes32, accounts: [AccountID: AccountState], stakes: [AccountID: Stake] = [:]) throws {
        try pool.write { db in
            if let existing = try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'genesis'") {
                guard existing == Data(genesisDigest.bytes) else {
                    throw LedgerError("the database \(path) belongs to another genesis (\(Hex.encode(existing))); "
                                      + "use a fresh data directory for this network")
                }
                return
            }
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('genesis', ?)", arguments: [Data(genesisDigest.bytes)])
            for (id, state) in accounts { try Self.upsert(db, id, state) }
            for (id, stake) in stakes { try Self.upsert(db, id, stake) }
        }
    }

    /// Everything the authority keeps in memory.
    public struct Snapshot: Sendable {
        public var accounts: [AccountID: AccountState] = [:]
        public var locks: [AccountID: Lock] = [:]
        public var stakes: [AccountID: Stake] = [:]
        public var carriedLocks: [AccountID: CarriedLock] = [:]
        public var feePool: Amount = .zero
    }

    /// Reads the whole ledger state (accounts are small: about 100 bytes each).
    public func load() throws -> Snapshot {
        try pool.read { db in
            var snapshot = Snapshot()
            let accounts = try Row.fetchCursor(db, sql: "SELECT id, next_seq, last_final, balance FROM account")
            while let row = try accounts.next() {
                let balanceText: String = row[3]
                guard let balance = Int128(balanceText) else { throw LedgerError("account balance '\(balanceText)' in \(path) is not a number") }
                snapshot.accounts[AccountID(try Self.bytes32(row[0]))] = AccountState(
                    nextSeq: UInt64(bitPattern: row[1]), lastFinal: BatchID(try Self.bytes32(row[2])), balance: balance)
            }
            let locks = try Row.fetchCursor(db, sql: "SELECT account, seq, batch_id FROM lock")
            while let row = try locks.next() {
                snapshot.locks[AccountID(try Self.bytes32(row[0]))] = Lock(seq: UInt64(bitPattern: row[1]), id: BatchID(try Self.bytes32(row[2])))
            }
            let stakes = try Row.fetchCursor(db, sql: "SELECT account, bonded, unbonding, unbonded_in, last_seated, registration FROM stake")
            while let row = try stakes.next() {
                let lastSeated: Int64? = row[4]
                let registration: Data? = row[5]
                snapshot.stakes[AccountID(try Self.bytes32(row[0]))] = Stake(
                    bonded: UInt64(bitPattern: row[1]), unbonding: UInt64(bitPattern: row[2]), unbondedIn: UInt64(bitPattern: row[3]),
                    candidate: try registration.map { try Self.registration([UInt8]($0)) },
                    lastSeated: lastSeated.map { UInt64(bitPattern: $0) })
            }
            let carried = try Row.fetchCursor(db, sql: "SELECT account, seq, ids FROM carried_lock")
            while let row = try carried.next() {
                let ids: Data = row[2]
                guard ids.count % 32 == 0, !ids.isEmpty else { throw LedgerError("a carried lock in \(path) is damaged") }
                let list = try stride(from: 0, to: ids.count, by: 32).map { BatchID(try Self.bytes32(ids.subdata(in: $0..<$0 + 32))) }
                snapshot.carriedLocks[AccountID(try Self.bytes32(row[0]))] = CarriedLock(seq: UInt64(bitPattern: row[1]), ids: list)
            }
            if let pool = try Int64.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fee_pool'") {
                snapshot.feePool = Amount(UInt64(bitPattern: pool))
            }
            return snapshot
        }
    }

    // MARK: Writing

    /// Commits `changes` in one transaction: when this returns, they survive a
    /// crash or a power cut.
    public func commit(_ changes: LedgerChanges) throws {
        guard !changes.isEmpty else { return }
        try pool.write { db in
            for (account, lock) in changes.newLocks {
                try db.execute(sql: "INSERT OR REPLACE INTO lock (account, seq, batch_id) VALUES (?, ?, ?)",
                               arguments: [Data(account.rawValue.bytes), Int64(bitPattern: lock.seq), Data(lock.id.rawValue.bytes)])
            }
            for (account, lock) in changes.releasedLocks {
                try db.execute(sql: "DELETE FROM lock WHERE account = ? AND seq <= ?",
                               arguments: [Data(account.rawValue.bytes), Int64(bitPattern: lock.seq)])
            }
            for final in changes.finalBatches {
                try db.execute(sql: """
                    INSERT OR IGNORE INTO final_batch (account, seq, id, envelope, certificate, applied_at) VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [Data(final.batch.signer.rawValue.bytes), Int64(bitPattern: final.batch.batch.seq),
                                     Data(final.batch.id.rawValue.bytes), Data(final.batch.envelope),
                                     Data(final.certificate), Int64(final.appliedAt)])
            }
            for (id, state) in changes.accounts { try Self.upsert(db, id, state) }
            for (id, stake) in changes.stakes {
                if let stake { try Self.upsert(db, id, stake) } else {
                    try db.execute(sql: "DELETE FROM stake WHERE account = ?", arguments: [Data(id.rawValue.bytes)])
                }
            }
            if let carried = changes.carriedLocks {
                try db.execute(sql: "DELETE FROM carried_lock")
                for (account, lock) in carried {
                    try db.execute(sql: "INSERT INTO carried_lock (account, seq, ids) VALUES (?, ?, ?)",
                                   arguments: [Data(account.rawValue.bytes), Int64(bitPattern: lock.seq), Data(lock.ids.flatMap(\.rawValue.bytes))])
                }
            }
            if let feePool = changes.feePool {
                try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('fee_pool', ?)",
                               arguments: [Int64(bitPattern: feePool.baseUnits)])
            }
        }
    }

    private static func upsert(_ db: Database, _ id: AccountID, _ state: AccountState) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO account (id, next_seq, last_final, balance) VALUES (?, ?, ?, ?)",
                       arguments: [Data(id.rawValue.bytes), Int64(bitPattern: state.nextSeq), Data(state.lastFinal.rawValue.bytes),
                                   String(state.balance)])
    }

    private static func upsert(_ db: Database, _ id: AccountID, _ stake: Stake) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO stake (account, bonded, unbonding, unbonded_in, last_seated, registration) VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [Data(id.rawValue.bytes), Int64(bitPattern: stake.bonded), Int64(bitPattern: stake.unbonding),
                             Int64(bitPattern: stake.unbondedIn), stake.lastSeated.map { Int64(bitPattern: $0) },
                             stake.candidate.map { Data(registrationBytes($0)) }])
    }

    /// A registration as stored: CBOR `[node, [address...], node_signature]`.
    static func registrationBytes(_ registration: Registration) -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 160)
        w.writeArrayHeader(3)
        w.writeBytes(registration.node.rawValue)
        w.writeArrayHeader(registration.addresses.count)
        for address in registration.addresses { w.writeText(address) }
        w.writeBytes(registration.nodeSignature.bytes)
        return w.bytes
    }

    static func registration(_ bytes: [UInt8]) throws -> Registration {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: 1024, maxDepth: 3))
            guard try r.readArrayHeader(maxCount: 3) == 3 else { throw LedgerError("not [node, addresses, signature]") }
            let node = PublicKey(try r.readBytes32())
            var addresses: [String] = []
            for _ in 0..<(try r.readArrayHeader(maxCount: Registration.maxAddresses)) { addresses.append(try r.readText(maxBytes: Registration.maxAddressBytes)) }
            let signature = try Signature(bytes: try r.readByteString())
            try r.expectEnd()
            return Registration(node: node, addresses: addresses, nodeSignature: signature)
        } catch {
            throw LedgerError("a stored registration is damaged (\(error)); the database is damaged")
        }
    }

    // MARK: Queries

    /// A final batch as stored: the device's envelope and its certificate.
    public struct FinalBatch: Sendable, Hashable {
        public let batch: SignedBatch
        public let certificate: [UInt8]
        public let appliedAt: UInt64
    }

    /// The final batch of `account` at `seq`, if that seq is final on this node.
    public func finalBatch(account: AccountID, seq: UInt64) throws -> FinalBatch? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT envelope, certificate, applied_at FROM final_batch WHERE account = ? AND seq = ?",
                             arguments: [Data(account.rawValue.bytes), Int64(bitPattern: seq)]).map(Self.finalBatch)
        }
    }

    /// Final batches with this id (usually one; two accounts may sign identical payloads).
    public func finalBatches(id: BatchID) throws -> [FinalBatch] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT envelope, certificate, applied_at FROM final_batch WHERE id = ?",
                             arguments: [Data(id.rawValue.bytes)]).map(Self.finalBatch)
        }
    }

    /// Final batches of `account` from seq `from` on, in order, at most `limit`
    /// (what a node that was down asks its peers for).
    public func finalBatches(account: AccountID, from: UInt64, limit: Int) throws -> [FinalBatch] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT envelope, certificate, applied_at FROM final_batch WHERE account = ? AND seq >= ? ORDER BY seq LIMIT ?
                """, arguments: [Data(account.rawValue.bytes), Int64(bitPattern: from), limit]).map(Self.finalBatch)
        }
    }

    /// Accounts after `after` in id order with their next seq, at most `limit`
    /// (what a peer compares to find what it missed).
    public func heads(after: AccountID?, limit: Int) throws -> [(account: AccountID, nextSeq: UInt64)] {
        try pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT id, next_seq FROM account WHERE id > ? ORDER BY id LIMIT ?",
                                        arguments: [Data((after?.rawValue ?? .zero).bytes), limit])
            return try rows.map { (AccountID(try Self.bytes32($0[0])), UInt64(bitPattern: $0[1])) }
        }
    }

    /// A small named value kept with the ledger (for example the faucet's
    /// batch in flight), or nil.
    public func metaValue(_ key: String) throws -> [UInt8]? {
        try pool.read { db in try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]).map { [UInt8]($0) } }
    }

    /// Sets (or, with nil, removes) a named value, durably.
    public func setMetaValue(_ key: String, _ value: [UInt8]?) throws {
        precondition(key != "genesis" && key != "fee_pool", "reserved meta key")
        try pool.write { db in
            if let value {
                try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, Data(value)])
            } else {
                try db.execute(sql: "DELETE FROM meta WHERE key = ?", arguments: [key])
            }
        }
    }

    private static func finalBatch(_ row: Row) throws -> FinalBatch {
        let envelope: Data = row[0], certificate: Data = row[1]
        // Stored only after it was verified; decoding again guards against a damaged file.
        let batch: SignedBatch
        do throws(ProtocolError) { batch = try SignedBatch.verify([UInt8](envelope)) } catch {
            throw LedgerError("a stored final batch no longer verifies (\(error)); the database is damaged")
        }
        return FinalBatch(batch: batch, certificate: [UInt8](certificate), appliedAt: UInt64(row[2] as Int64))
    }

    private static func bytes32(_ value: Data) throws -> Bytes32 {
        do throws(LengthError) { return try Bytes32(value) } catch { throw LedgerError("a stored key is not 32 bytes; the database is damaged") }
    }
}

/// Changes to make durable together (see ``LedgerStore/commit(_:)``).
public struct LedgerChanges: Sendable {
    public var newLocks: [AccountID: Lock] = [:]
    public var releasedLocks: [AccountID: Lock] = [:]
    public var finalBatches: [(batch: SignedBatch, certificate: [UInt8], appliedAt: UInt64)] = []
    public var accounts: [AccountID: AccountState] = [:]
    /// Changed stakes; nil removes the account's entry.
    public var stakes: [AccountID: Stake?] = [:]
    /// When set, replaces every carried lock (a checkpoint was adopted).
    public var carriedLocks: [AccountID: CarriedLock]?
    public var feePool: Amount?

    public init() {}

    public var isEmpty: Bool {
        newLocks.isEmpty && releasedLocks.isEmpty && finalBatches.isEmpty && accounts.isEmpty && stakes.isEmpty
            && carriedLocks == nil && feePool == nil
    }

    /// Adds `other`, which happened after these changes.
    public mutating func merge(_ other: LedgerChanges) {
        for (account, lock) in other.releasedLocks {
            releasedLocks[account] = lock
            if let pending = newLocks[account], pending.seq <= lock.seq { newLocks[account] = nil }
        }
        newLocks.merge(other.newLocks) { _, later in later }
        finalBatches += other.finalBatches
        accounts.merge(other.accounts) { _, later in later }
        stakes.merge(other.stakes) { _, later in later }
        if let carried = other.carriedLocks { carriedLocks = carried }
        if let pool = other.feePool { feePool = pool }
    }
}

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
        migrator.registerMigration("v3-checkpoints") { db in
            // The header chain with the bodies this node has, and the
            // accounts applied since the last checkpoint (what a seal report
            // must name, even after a restart).
            try db.execute(sql: """
                CREATE TABLE checkpoint (epoch INTEGER PRIMARY KEY, digest BLOB NOT NULL, signed BLOB NOT NULL, adopted_at INTEGER NOT NULL);
                CREATE TABLE checkpoint_body (
                    epoch INTEGER NOT NULL, kind INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (epoch, kind)
                ) WITHOUT ROWID;
                CREATE TABLE touched (account BLOB PRIMARY KEY) WITHOUT ROWID;
                CREATE TABLE agreement_message (id INTEGER PRIMARY KEY AUTOINCREMENT, epoch INTEGER NOT NULL, kind INTEGER NOT NULL, bytes BLOB NOT NULL);
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
        public var feePoolDebt: UInt64 = 0
        public var unbondingDebt: [AccountID: UInt64] = [:]
        public var burned: Amount = .zero
        /// The rating book the last checkpoint left (its body 7; empty before any).
        public var ratings = RatingBook()
        /// The checkpoints adopted, in epoch order.
        public var checkpoints: [SignedCheckpoint] = []
        /// The locks the last checkpoint carried (its body 2), where the next cut starts.
        public var lastCarried: [AccountID: CarriedLock] = [:]
        /// Accounts applied since the last checkpoint.
        public var touched: Set<AccountID> = []
        /// This validator's own agreement messages of the epoch in progress (its write-ahead log).
        public var agreementMessages: [(epoch: UInt64, message: CheckpointAgreement.Message)] = []
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
            if let data = try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'unbonding_debt'") {
                snapshot.unbondingDebt = try Self.decodeDebts([UInt8](data))
            }
            if let debt = try Int64.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fee_pool_debt'") {
                snapshot.feePoolDebt = UInt64(bitPattern: debt)
            }
            if let burned = try Int64.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'burned'") {
                snapshot.burned = Amount(UInt64(bitPattern: burned))
            }
            for data in try Data.fetchAll(db, sql: "SELECT signed FROM checkpoint ORDER BY epoch") {
                do throws(LedgerError) { snapshot.checkpoints.append(try SignedCheckpoint(decoding: [UInt8](data))) } catch {
                    throw LedgerError("a stored checkpoint is damaged (\(error)); the database is damaged")
                }
            }
            if let last = snapshot.checkpoints.last,
               let body = try Data.fetchOne(db, sql: "SELECT bytes FROM checkpoint_body WHERE epoch = ? AND kind = ?",
                                            arguments: [Int64(bitPattern: last.header.epoch), Int64(CheckpointBodies.Kind.carriedLocks.rawValue)]) {
                snapshot.lastCarried = try CheckpointBodies.carriedLocks(decoding: [UInt8](body))
            }
            if let last = snapshot.checkpoints.last,
               let body = try Data.fetchOne(db, sql: "SELECT bytes FROM checkpoint_body WHERE epoch = ? AND kind = ?",
                                            arguments: [Int64(bitPattern: last.header.epoch), Int64(CheckpointBodies.Kind.ratings.rawValue)]) {
                snapshot.ratings = try RatingsBody(decoding: [UInt8](body)).book
            }
            for data in try Data.fetchAll(db, sql: "SELECT account FROM touched") { snapshot.touched.insert(AccountID(try Self.bytes32(data))) }
            for row in try Row.fetchAll(db, sql: "SELECT epoch, kind, bytes FROM agreement_message ORDER BY id") {
                let bytes = [UInt8](row[2] as Data), kind: Int64 = row[1]
                do throws(LedgerError) {
                    let message: CheckpointAgreement.Message = kind == 1 ? .proposal(try CheckpointProposal(decoding: bytes)) : .vote(try CheckpointVote(decoding: bytes))
                    snapshot.agreementMessages.append((UInt64(bitPattern: row[0] as Int64), message))
                } catch {
                    throw LedgerError("a stored agreement message is damaged (\(error)); the database is damaged")
                }
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
            if let debts = changes.unbondingDebt {
                try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('unbonding_debt', ?)", arguments: [Data(Self.encodeDebts(debts))])
            }
            if let debt = changes.feePoolDebt {
                try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('fee_pool_debt', ?)", arguments: [Int64(bitPattern: debt)])
            }
            if let burned = changes.burned {
                try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('burned', ?)",
                               arguments: [Int64(bitPattern: burned.baseUnits)])
            }
            for checkpoint in changes.checkpoints {
                let epoch = Int64(bitPattern: checkpoint.signed.header.epoch)
                try db.execute(sql: "INSERT OR REPLACE INTO checkpoint (epoch, digest, signed, adopted_at) VALUES (?, ?, ?, ?)",
                               arguments: [epoch, Data(checkpoint.signed.header.digest.bytes), Data(checkpoint.signed.encoded()),
                                           Int64(bitPattern: checkpoint.adoptedAtMillis)])
                for (kind, bytes) in checkpoint.bodies {
                    try db.execute(sql: "INSERT OR REPLACE INTO checkpoint_body (epoch, kind, bytes) VALUES (?, ?, ?)",
                                   arguments: [epoch, Int64(kind.rawValue), Data(bytes)])
                }
                try db.execute(sql: "DELETE FROM agreement_message WHERE epoch <= ?", arguments: [epoch])
                // A new epoch: what is touched from here on is touched in it.
                // (Changes merged into this one may name accounts touched just
                // before; reporting an account too many is harmless.)
                try db.execute(sql: "DELETE FROM touched")
            }
            for (epoch, message) in changes.agreementMessages {
                let (kind, bytes): (Int64, [UInt8]) = switch message {
                case .proposal(let proposal): (1, proposal.encoded())
                case .vote(let vote): (2, vote.encoded())
                }
                try db.execute(sql: "INSERT INTO agreement_message (epoch, kind, bytes) VALUES (?, ?, ?)",
                               arguments: [Int64(bitPattern: epoch), kind, Data(bytes)])
            }
            for account in changes.touched {
                try db.execute(sql: "INSERT OR IGNORE INTO touched (account) VALUES (?)", arguments: [Data(account.rawValue.bytes)])
            }
        }
    }

    /// A checkpoint as stored, with the bodies this node has.
    public struct StoredCheckpoint: Sendable, Hashable {
        public let signed: SignedCheckpoint
        public let bodies: [CheckpointBodies.Kind: [UInt8]]
        /// When this node adopted it (ms since 1970; 0 when not known). Local: never sent to peers.
        public var adoptedAtMillis: UInt64
        public init(signed: SignedCheckpoint, bodies: [CheckpointBodies.Kind: [UInt8]], adoptedAtMillis: UInt64 = 0) {
            self.signed = signed
            self.bodies = bodies
            self.adoptedAtMillis = adoptedAtMillis
        }
    }

    /// The checkpoint of `epoch` (the latest when nil), with its stored
    /// bodies (only those of `kinds` when given: a cut body can be megabytes).
    public func checkpoint(epoch: UInt64?, kinds: Set<CheckpointBodies.Kind>? = nil) throws -> StoredCheckpoint? {
        try pool.read { db in
            let row: Row?
            if let epoch {
                row = try Row.fetchOne(db, sql: "SELECT epoch, signed, adopted_at FROM checkpoint WHERE epoch = ?", arguments: [Int64(bitPattern: epoch)])
            } else {
                row = try Row.fetchOne(db, sql: "SELECT epoch, signed, adopted_at FROM checkpoint ORDER BY epoch DESC LIMIT 1")
            }
            guard let row else { return nil }
            let signedData: Data = row[1]
            let signed: SignedCheckpoint
            do throws(LedgerError) { signed = try SignedCheckpoint(decoding: [UInt8](signedData)) } catch {
                throw LedgerError("a stored checkpoint is damaged (\(error)); the database is damaged")
            }
            var bodies: [CheckpointBodies.Kind: [UInt8]] = [:]
            for body in try Row.fetchAll(db, sql: "SELECT kind, bytes FROM checkpoint_body WHERE epoch = ?", arguments: [row[0] as Int64]) {
                if let kind = CheckpointBodies.Kind(rawValue: UInt64(body[0] as Int64)), kinds?.contains(kind) ?? true {
                    bodies[kind] = [UInt8](body[1] as Data)
                }
            }
            return StoredCheckpoint(signed: signed, bodies: bodies, adoptedAtMillis: UInt64(bitPattern: row[2] as Int64))
        }
    }

    /// Checkpoints from `epoch` on, in order, at most `limit`, each with the
    /// bodies a node needs to adopt it (carried locks, transitions, fees)
    /// and the stakes with their peer records (where a bridge finds the committee).
    public func checkpointsForPeers(from epoch: UInt64, limit: Int) throws -> [StoredCheckpoint] {
        let kinds: Set<CheckpointBodies.Kind> = [.cut, .carriedLocks, .transitions, .fees, .stakes]
        var result: [StoredCheckpoint] = []
        var next = epoch, bytes = 0
        while result.count < limit, let stored = try checkpoint(epoch: next) {
            let entry = StoredCheckpoint(signed: stored.signed, bodies: stored.bodies.filter { kinds.contains($0.key) })
            // A page stays within one frame (the cut bodies can be large); the follower asks again.
            let size = entry.bodies.values.reduce(0) { $0 + $1.count } + 4_096
            if !result.isEmpty && bytes + size > PeerMessage.maxPageBytes { break }
            bytes += size
            result.append(entry)
            next += 1
        }
        return result
    }

    /// Signed checkpoints from `epoch` on, in order, at most `limit` (a peer following the chain).
    public func checkpoints(from epoch: UInt64, limit: Int) throws -> [SignedCheckpoint] {
        try pool.read { db in
            try Data.fetchAll(db, sql: "SELECT signed FROM checkpoint WHERE epoch >= ? ORDER BY epoch LIMIT ?",
                              arguments: [Int64(bitPattern: epoch), limit]).map { data in
                do throws(LedgerError) { return try SignedCheckpoint(decoding: [UInt8](data)) } catch {
                    throw LedgerError("a stored checkpoint is damaged (\(error)); the database is damaged")
                }
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
        precondition(key != "genesis" && key != "fee_pool" && key != "burned" && key != "fee_pool_debt" && key != "unbonding_debt", "reserved meta key")
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
    public var feePoolDebt: UInt64?
    /// When set, replaces the unbonding stake owed (``Authority/unbondingDebt``).
    public var unbondingDebt: [AccountID: UInt64]?
    public var burned: Amount?
    /// Accounts applied (whose head moved) in the current epoch.
    public var touched: Set<AccountID> = []
    /// Checkpoints adopted: stored, and the touched accounts start afresh.
    public var checkpoints: [LedgerStore.StoredCheckpoint] = []
    /// This validator's own agreement messages, durable before they are sent.
    public var agreementMessages: [(epoch: UInt64, message: CheckpointAgreement.Message)] = []

    public init() {}

    public var isEmpty: Bool {
        newLocks.isEmpty && releasedLocks.isEmpty && finalBatches.isEmpty && accounts.isEmpty && stakes.isEmpty
            && carriedLocks == nil && feePool == nil && feePoolDebt == nil && unbondingDebt == nil && burned == nil && touched.isEmpty && checkpoints.isEmpty && agreementMessages.isEmpty
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
        if let total = other.burned { burned = total }
        if let debt = other.feePoolDebt { feePoolDebt = debt }
        if let debts = other.unbondingDebt { unbondingDebt = debts }
        touched.formUnion(other.touched)
        checkpoints += other.checkpoints
        agreementMessages += other.agreementMessages
    }
}

extension LedgerStore {
    /// CBOR `[[account, amount]...]`, sorted by account.
    static func encodeDebts(_ debts: [AccountID: UInt64]) -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 8 + debts.count * 44)
        w.writeArrayHeader(debts.count)
        for (account, amount) in debts.sorted(by: { $0.key < $1.key }) { w.writeArrayHeader(2); w.writeBytes(account.rawValue); w.writeUnsigned(amount) }
        return w.bytes
    }

    static func decodeDebts(_ bytes: [UInt8]) throws -> [AccountID: UInt64] {
        var r = try CBORReader(bytes)
        var result: [AccountID: UInt64] = [:]
        for _ in 0..<(try r.readArrayHeader(maxCount: 1_000_000)) {
            guard try r.readArrayHeader(maxCount: 2) == 2 else { throw LedgerError("the stored unbonding debts are damaged") }
            result[AccountID(try r.readBytes32())] = try r.readUnsigned()
        }
        try r.expectEnd()
        return result
    }
}

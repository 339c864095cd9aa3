import Testing
import Foundation
import KognitaCore
import KognitaLedger
import KognitaNode
import KognitaTesting

private let genesisDigest = BLAKE2b256.hash(Array("test genesis".utf8))

/// Runs the authority and records what it changed, as the node does.
private func applyAndRecord(_ authority: inout Authority, _ batch: SignedBatch, _ certificate: VerifiedCertificate) throws -> LedgerChanges {
    var changes = LedgerChanges()
    guard case .applied(let applied) = try authority.apply(batch, certificate) else { return changes }
    for account in applied.changedAccounts { changes.accounts[account] = authority.state(of: account) }
    changes.releasedLocks = applied.releasedLocks
    changes.finalBatches = applied.batches.map { ($0, certificate.certificate.encoded(), 1) }
    changes.feePool = authority.feePool
    return changes
}

@Suite("ledger store (SQLite through GRDB)")
struct LedgerStoreTests {
    private let net = LedgerFixture()

    private func batch(seq: UInt64, prev: BatchID) -> SignedBatch { net.batch(seq: seq, prev: prev, amounts: [100], fee: 2) }

    @Test("locks, applied certificates, accounts and the fee pool survive reopening; the reloaded ledger has the same digest")
    func survivesReopen() async throws {
        try await TemporaryDirectory.with { dir in
            let path = "\(dir)/ledger.sqlite"
            var authority = net.authority()
            var digestBefore = Bytes32.zero
            do {
                let store = try LedgerStore(path: path)
                try store.initialise(genesisDigest: genesisDigest, accounts: authority.accounts)
                var prev = BatchID.zero
                for seq in 1...5 as ClosedRange<UInt64> {
                    let batch = batch(seq: seq, prev: prev)
                    guard case .vote(_, lockIsNew: true) = authority.handle(batch) else { Issue.record("no vote"); return }
                    var lock = LedgerChanges()
                    lock.newLocks[net.payer.publicKey] = authority.locks[net.payer.publicKey]
                    try store.commit(lock)
                    try store.commit(try applyAndRecord(&authority, batch, net.verified(batch)))
                    prev = batch.id
                }
                // A sixth batch is voted on but not yet final: its lock must survive.
                let pending = batch(seq: 6, prev: prev)
                _ = authority.handle(pending)
                var lock = LedgerChanges()
                lock.newLocks[net.payer.publicKey] = authority.locks[net.payer.publicKey]
                try store.commit(lock)
                digestBefore = authority.stateDigest
            }
            let reopened = try LedgerStore(path: path)
            let snapshot = try reopened.load()
            let reloaded = Authority(committee: net.committee, accounts: snapshot.accounts, locks: snapshot.locks, feePool: snapshot.feePool)
            #expect(reloaded.stateDigest == digestBefore)
            #expect(reloaded.feePool == 10)
            #expect(reloaded.locks[net.payer.publicKey]?.seq == 6, "the lock of the pending vote was lost")
            #expect(reloaded.totalMoney == 1_000_000)
            let third = try #require(try reopened.finalBatch(account: net.payer.publicKey, seq: 3))
            #expect(third.batch.batch.seq == 3)
            #expect(try Certificate(decoding: third.certificate).verify(for: net.committee).batch == BatchKey(third.batch))
            #expect(try reopened.finalBatches(id: third.batch.id).count == 1)
            #expect(try reopened.finalBatches(account: net.payer.publicKey, from: 2, limit: 10).map(\.batch.batch.seq) == [2, 3, 4, 5])
        }
    }

    @Test("a database made for another genesis is refused, with what to do")
    func otherGenesisRefused() async throws {
        try await TemporaryDirectory.with { dir in
            let store = try LedgerStore(path: "\(dir)/ledger.sqlite")
            try store.initialise(genesisDigest: genesisDigest, accounts: [:])
            try store.initialise(genesisDigest: genesisDigest, accounts: [:]) // the same genesis again: fine
            #expect(throws: LedgerError.self) {
                try store.initialise(genesisDigest: BLAKE2b256.hash([1]), accounts: [:])
            }
        }
    }

    @Test("the group committer writes concurrent changes in fewer transactions, and each caller returns once its change is durable")
    func groupCommit() async throws {
        try await TemporaryDirectory.with { dir in
            let store = try LedgerStore(path: "\(dir)/ledger.sqlite")
            let committer = GroupCommitter(store: store)
            let accounts = (0..<200).map { _ in SigningKey().publicKey }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, account) in accounts.enumerated() {
                    group.addTask {
                        var changes = LedgerChanges()
                        changes.newLocks[account] = Lock(seq: 1, id: BatchID(BLAKE2b256.hash([UInt8(index & 0xff)])))
                        try await committer.commit(changes)
                        #expect(try store.load().locks[account] != nil, "returned before the change was durable")
                    }
                }
                try await group.waitForAll()
            }
            #expect(try store.load().locks.count == 200)
            let transactions = await committer.transactions
            #expect(transactions < 200, "no grouping happened")
        }
    }
}

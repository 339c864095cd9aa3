import Testing
import Foundation
import KognitaAgent
import KognitaCore
import KognitaTesting

/// Builds a chain of signed batches for one device.
struct ChainMaker {
    let key = try! SigningKey(seed: [UInt8](repeating: 9, count: 32))
    let recipient = try! AccountID(bytes: [UInt8](repeating: 0xcd, count: 32))

    func batch(seq: UInt64, prev: BatchID, transfers: Int = 3) -> SignedBatch {
        let list = (0..<transfers).map { i in
            Transfer(to: recipient, amount: Amount(UInt64(i + 1)), sensor: "meter-1", reading: Int64(seq * 100) + Int64(i), at: 1_767_225_600_000)
        }
        return try! SignedBatch.sign(Batch(network: try! NetworkID("kognita-devnet"), seq: seq, prev: prev,
                                           created: 1_767_225_600_000 + seq, transfers: list), with: key)
    }

    /// Appends `count` batches continuing the spool's chain; returns them.
    func append(_ count: Int, to spool: Spool) throws -> [SignedBatch] {
        var made: [SignedBatch] = []
        for i in 0..<count {
            let next = batch(seq: spool.nextSeq, prev: spool.prev)
            try spool.append(next, ruleState: Array("state-\(spool.nextSeq)-\(i)".utf8))
            made.append(next)
        }
        return made
    }
}

@Suite("Agent spool")
struct SpoolTests {
    let chain = ChainMaker()

    @Test("batches survive a reopen in chain order; final ones are gone; the chain continues")
    func reopen() async throws {
        try await TemporaryDirectory.with { dir in
            let made: [SignedBatch]
            do {
                let spool = try Spool(directory: dir)
                made = try chain.append(5, to: spool)
                try spool.markFinal(made[0].id)
                try spool.markFinal(made[2].id)
            }
            let spool = try Spool(directory: dir)
            #expect(spool.pending.map(\.id) == [made[1].id, made[3].id, made[4].id])
            #expect(spool.nextSeq == 6)
            #expect(spool.prev == made[4].id)
            #expect(spool.ruleState == Array("state-5-4".utf8))
            #expect(spool.recovery.dropped.isEmpty)
        }
    }

    @Test("a torn last record, cut at every possible byte, is trimmed and everything before it kept")
    func tornTail() async throws {
        try await TemporaryDirectory.with { dir in
            var made: [SignedBatch] = []
            let lastRecordStart: Int
            do {
                let spool = try Spool(directory: dir)
                made = try chain.append(2, to: spool)
                lastRecordStart = spool.size
                made += try chain.append(1, to: spool)
            }
            let path = "\(dir)/spool.journal"
            let full = try Data(contentsOf: URL(fileURLWithPath: path))
            for cut in (lastRecordStart + 1)..<full.count {
                try full.prefix(cut).write(to: URL(fileURLWithPath: path))
                let spool = try Spool(directory: dir)
                #expect(spool.pending.map(\.id) == [made[0].id, made[1].id], "cut at \(cut)")
                #expect(spool.recovery.tornTailOnly, "cut at \(cut)")
                #expect(spool.nextSeq == 3)
            }
        }
    }

    @Test("a corrupt record in the middle is dropped and reported; the records after it are kept")
    func corruptMiddle() async throws {
        try await TemporaryDirectory.with { dir in
            let made: [SignedBatch]
            do { made = try chain.append(3, to: try Spool(directory: dir)) }
            let path = "\(dir)/spool.journal"
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            // Flip a byte inside the second record's payload.
            let firstLength = bytes.count / 3
            bytes[firstLength + 40] ^= 0x55
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let spool = try Spool(directory: dir)
                #expect(spool.pending.map(\.id) == [made[0].id, made[2].id])
                #expect(spool.recovery.dropped.count == 1)
                #expect(!spool.recovery.tornTailOnly)
            }
            // The repaired journal opens cleanly next time.
            #expect(try Spool(directory: dir).recovery.dropped.isEmpty)
        }
    }

    @Test("a compaction cut short leaves its temporary file; the next open removes it and nothing else")
    func abandonedCompaction() async throws {
        try await TemporaryDirectory.with { dir in
            let made: [SignedBatch]
            do { made = try chain.append(2, to: try Spool(directory: dir)) }
            // What a SIGKILL between writing and renaming leaves (FileIO's naming).
            let leftover = "\(dir)/.spool.journal.tmp-4242-00112233aabb"
            try Data(repeating: 0x4B, count: 70_000).write(to: URL(fileURLWithPath: leftover))
            let unrelated = "\(dir)/.status.json.tmp-4242-00112233aabb"
            try Data([1]).write(to: URL(fileURLWithPath: unrelated))
            let spool = try Spool(directory: dir)
            #expect(spool.recovery.abandonedTemporaries == 1)
            #expect(!FileManager.default.fileExists(atPath: leftover))
            #expect(FileManager.default.fileExists(atPath: unrelated))
            #expect(spool.pending.map(\.id) == made.map(\.id))
        }
    }

    @Test("garbage, an empty file or a missing file never stop the spool from opening")
    func garbage() async throws {
        try await TemporaryDirectory.with { dir in
            #expect(try Spool(directory: dir).pending.isEmpty)
            try Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: URL(fileURLWithPath: "\(dir)/spool.journal"))
            let spool = try Spool(directory: dir)
            #expect(spool.pending.isEmpty)
            #expect(spool.recovery.dropped == [0..<5000])
            #expect(spool.nextSeq == 1)
        }
    }

    @Test("acknowledged records are compacted away and the state is unchanged")
    func compaction() async throws {
        try await TemporaryDirectory.with { dir in
            let made: [SignedBatch]
            let ruleState: [UInt8]
            do {
                let spool = try Spool(directory: dir)
                made = try chain.append(400, to: spool)
                let before = spool.size
                for batch in made.dropLast(2) { try spool.markFinal(batch.id) }
                #expect(spool.size < before / 4, "size \(spool.size) after compaction, \(before) before")
                #expect(spool.pending.map(\.id) == made.suffix(2).map(\.id))
                ruleState = spool.ruleState
            }
            let reopened = try Spool(directory: dir)
            #expect(reopened.pending.map(\.id) == made.suffix(2).map(\.id))
            #expect(reopened.nextSeq == 401)
            #expect(reopened.ruleState == ruleState)
        }
    }

    @Test("the size cap raises back-pressure instead of dropping anything")
    func capacity() async throws {
        try await TemporaryDirectory.with { dir in
            let spool = try Spool(directory: dir, capacityBytes: 2000)
            var made: [SignedBatch] = []
            while !spool.isFull { made += try chain.append(1, to: spool) }
            #expect(spool.pending.count == made.count)
            for batch in made { try spool.markFinal(batch.id) }
            #expect(spool.pending.isEmpty)
            #expect(!spool.isFull, "a spool whose batches are all final must make room again")
        }
    }

    @Test("two agents can never share a spool: the second is refused while the first holds it")
    func exclusive() async throws {
        try await TemporaryDirectory.with { dir in
            let first = try Spool(directory: dir)
            let error = #expect(throws: SpoolError.self) { try Spool(directory: dir) }
            #expect(error?.description.contains("another kognita-agent") == true)
            _ = first
        }
    }

    @Test("how far the network is proven to be survives a reopen and a compaction")
    func provenPosition() async throws {
        try await TemporaryDirectory.with { dir in
            let made: [SignedBatch]
            do {
                let spool = try Spool(directory: dir)
                made = try chain.append(300, to: spool)
                for batch in made.prefix(250) { try spool.markFinal(batch.id) } // compacts on the way
                #expect(spool.provenNextSeq == 251)
            }
            let reopened = try Spool(directory: dir)
            #expect(reopened.provenNextSeq == 251)
            #expect(reopened.pending.count == 50)
        }
    }

    @Test("re-chaining takes batches out and continues from the network's head; set-aside batches are kept as files")
    func rechainAndSetAside() async throws {
        try await TemporaryDirectory.with { dir in
            let head = BatchID(BLAKE2b256.hash([7]))
            let made: [SignedBatch]
            let replacement = chain.batch(seq: 10, prev: head)
            do {
                let spool = try Spool(directory: dir)
                made = try chain.append(3, to: spool)
                #expect(throws: SpoolError.self) {
                    try spool.rechain(superseding: [made[1].id], nextSeq: 10, lastFinal: head, replacements: [chain.batch(seq: 11, prev: head)])
                }
                try spool.rechain(superseding: [made[1].id, made[2].id], nextSeq: 10, lastFinal: head, replacements: [replacement])
                #expect(spool.pending.map(\.id) == [made[0].id, replacement.id])
                #expect(spool.nextSeq == 11 && spool.prev == replacement.id)
                #expect(throws: SpoolError.self) { try spool.append(chain.batch(seq: 4, prev: made[2].id), ruleState: []) }
            }
            do {
                let spool = try Spool(directory: dir)
                #expect(spool.pending.map(\.id) == [made[0].id, replacement.id])
                #expect(spool.provenNextSeq == 10)
                try spool.markFinal(replacement.id)
                try spool.setAside(made[0].id, reason: "bad-signature")
                #expect(spool.pending.isEmpty)
                #expect(FileManager.default.fileExists(atPath: "\(dir)/set-aside/\(made[0].id.hex).cose"))
            }
            let reopened = try Spool(directory: dir)
            #expect(reopened.pending.isEmpty && reopened.nextSeq == 11 && reopened.prev == replacement.id)
            #expect(reopened.setAside.map(\.id) == [made[0].id])
            #expect(reopened.provenNextSeq == 11)
        }
    }

}

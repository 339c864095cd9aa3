import KognitaCore
import KognitaSystem
#if canImport(Glibc)
import Glibc
#endif

/// The agent's crash-safe spool: an append-only journal on disk, the single
/// source of truth for batches awaiting a final ack and for the chain state.
///
/// - One fsync per batch (``append(_:ruleState:)``), not per event: SD cards
///   wear out. Final marks are written without an fsync: losing one in a
///   crash only means a harmless resend, answered `final` again.
/// - On open, a torn tail (a crash mid-write) is trimmed and a damaged record
///   in the middle is skipped; neither stops the agent. ``recovery`` says what
///   was dropped.
/// - When most of the journal is final, it is compacted: rewritten atomically
///   with only what is still live.
/// - ``isFull`` is the back-pressure signal: past the size cap the agent stops
///   closing batches (consumption keeps being counted by the rules and is paid
///   later); nothing is ever dropped to make room.
public final class Spool {
    /// What opening found and repaired.
    public struct Recovery: Sendable, Equatable {
        /// Intact records replayed.
        public var records = 0
        /// Damaged stretches dropped: (offset, length) in the old file.
        public var dropped: [Range<Int>] = []
        /// Whether the damage was only a torn tail.
        public var tornTailOnly = false
        /// Batches whose records no longer verified (dropped).
        public var unusableBatches = 0
        /// Leftovers of a compaction cut short (a crash between writing the
        /// new journal and renaming it into place), removed.
        public var abandonedTemporaries = 0
    }

    /// The journal's path.
    public let path: String
    /// Where batches refused as malformed or bad-signature are kept for a person.
    public let setAsideDirectory: String
    /// Size, in bytes, past which ``isFull`` holds.
    public let capacityBytes: Int
    /// What opening found.
    public let recovery: Recovery

    private var state = SpoolState()
    private var fd: Int32
    private var sizeBytes: Int
    /// Held for the spool's lifetime: two agents must never share a spool.
    private let lockFD: Int32

    /// Opens (or creates) the spool in `directory`, replaying and repairing it.
    public init(directory: String, capacityBytes: Int = 16 << 20) throws(SpoolError) {
        path = "\(directory)/spool.journal"
        setAsideDirectory = "\(directory)/set-aside"
        self.capacityBytes = capacityBytes
        lockFD = open("\(directory)/spool.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw SpoolError("cannot open \(directory)/spool.lock: \(String(cString: strerror(errno)))") }
        // A lock held for a moment is not another agent: a process being
        // spawned elsewhere in this program holds a copy of every descriptor
        // until its exec, and a restarting agent's predecessor may still be
        // exiting. A second agent holds it for good; 200 ms tells them apart.
        var locked = flock(lockFD, LOCK_EX | LOCK_NB) == 0
        for _ in 0..<20 where !locked {
            usleep(10_000)
            locked = flock(lockFD, LOCK_EX | LOCK_NB) == 0
        }
        guard locked else {
            close(lockFD)
            throw SpoolError("another kognita-agent is using \(directory) (its spool is locked); run one agent per state directory")
        }
        let existing: [UInt8]
        do throws(FileError) {
            existing = try FileIO.read(path, maxBytes: max(capacityBytes * 2, 64 << 20))
        } catch where error.isMissing {
            existing = []
        } catch {
            throw SpoolError("cannot read the spool: \(error)")
        }
        let scan = JournalScan.scan(existing)
        for record in scan.records { state.apply(record) }
        recovery = Recovery(records: scan.records.count, dropped: scan.damaged,
                            tornTailOnly: scan.damageIsTornTail && scan.damaged.last?.upperBound == existing.count,
                            unusableBatches: state.unusable,
                            // We hold the lock: no other writer's temporary can be there.
                            abandonedTemporaries: FileIO.removeAbandonedTemporaries(of: path))
        fd = -1
        sizeBytes = 0
        if !scan.damaged.isEmpty || state.unusable > 0 || existing.count > 2 * max(state.liveBytes, 32 << 10) {
            try rewrite() // a clean journal with only what is live
        } else {
            try openForAppend()
            sizeBytes = existing.count
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        close(lockFD) // releases the lock
    }

    /// How far the network is proven to be (see SpoolState.provenNextSeq).
    public var provenNextSeq: UInt64 { state.provenNextSeq }

    // MARK: - State

    /// Batches awaiting a final ack, in chain order.
    public var pending: [SignedBatch] { state.pending.map { $0.signed } }
    /// Ids and reasons of batches set aside.
    public var setAside: [(id: BatchID, reason: String)] { state.setAside }
    /// The seq the next batch must carry.
    public var nextSeq: UInt64 { state.nextSeq }
    /// The prev the next batch must carry.
    public var prev: BatchID { state.prev }
    /// The rule state stored with the last batch (opaque to the spool).
    public var ruleState: [UInt8] { state.ruleState }
    /// Current journal size in bytes.
    public var size: Int { sizeBytes }
    /// Whether the spool is at its cap: close no more batches until acks free space.
    public var isFull: Bool { sizeBytes >= capacityBytes }

    // MARK: - Changes

    /// Appends a signed batch with the rule state after its transfers, and
    /// makes it durable (fsync) before returning.
    public func append(_ batch: SignedBatch, ruleState: [UInt8]) throws(SpoolError) {
        guard batch.batch.seq == state.nextSeq, batch.batch.prev == state.prev else {
            throw SpoolError("batch seq \(batch.batch.seq) does not continue the chain (next seq \(state.nextSeq))")
        }
        try write(.batch(envelope: batch.envelope, ruleState: ruleState), sync: true)
    }

    /// Makes a new rule state durable without a batch (a rule's first
    /// reading: its baseline must survive a crash, or what is consumed before
    /// the first batch would be lost).
    public func checkpoint(ruleState: [UInt8]) throws(SpoolError) {
        try write(.checkpoint(nextSeq: state.nextSeq, prev: state.prev, ruleState: ruleState), sync: true)
    }

    /// Records that the network made a batch final. Not fsynced (see above).
    public func markFinal(_ id: BatchID) throws(SpoolError) {
        guard state.pending.contains(where: { $0.id == id }) else { return }
        try write(.final(id: id), sync: false)
        try compactIfWorthIt()
    }

    /// Takes batches out of the chain, continues it at (nextSeq, lastFinal)
    /// and appends their replacements, in one durable record: all or nothing.
    public func rechain(superseding ids: [BatchID], nextSeq: UInt64, lastFinal: BatchID,
                        replacements: [SignedBatch]) throws(SpoolError) {
        var expectedSeq = nextSeq, expectedPrev = lastFinal
        for batch in replacements {
            guard batch.batch.seq == expectedSeq, batch.batch.prev == expectedPrev else {
                throw SpoolError("replacement batch seq \(batch.batch.seq) does not continue the chain at \(expectedSeq)")
            }
            expectedSeq += 1
            expectedPrev = batch.id
        }
        try write(.rechained(superseded: ids, nextSeq: nextSeq, prev: lastFinal, replacements: replacements.map { $0.envelope }), sync: true)
    }

    /// Sets a refused batch aside: its bytes go to ``setAsideDirectory`` for a
    /// person to examine, and it is never resent.
    public func setAside(_ id: BatchID, reason: String) throws(SpoolError) {
        guard let entry = state.pending.first(where: { $0.id == id }) else { return }
        mkdir(setAsideDirectory, 0o700)
        do throws(FileError) {
            try FileIO.writeAtomically(entry.signed.envelope, to: "\(setAsideDirectory)/\(id.hex).cose", mode: 0o600, replace: true)
        } catch {
            throw SpoolError("cannot keep refused batch \(id.hex) aside: \(error)")
        }
        try write(.setAside(id: id, reason: reason), sync: true)
    }

    /// Rewrites the journal when more than half of it is dead (or it is full
    /// and anything is dead), measured exactly from the live state.
    private func compactIfWorthIt() throws(SpoolError) {
        guard sizeBytes > 32 << 10 || isFull else { return }
        let live = state.liveBytes
        if sizeBytes > 2 * live || (isFull && sizeBytes > live) { try rewrite() }
    }

    // MARK: - Files

    private func write(_ record: SpoolRecord, sync: Bool) throws(SpoolError) {
        let bytes = record.encoded()
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SpoolError("cannot write to \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
        if sync && fsync(fd) != 0 { throw SpoolError("cannot fsync \(path): \(String(cString: strerror(errno)))") }
        sizeBytes += bytes.count
        state.apply(record)
    }

    /// Rewrites the journal with only the live state, atomically.
    private func rewrite() throws(SpoolError) {
        let records = state.compactedRecords()
        var bytes: [UInt8] = []
        for record in records { bytes += record.encoded() }
        do throws(FileError) { try FileIO.writeAtomically(bytes, to: path, mode: 0o600, replace: true) } catch {
            throw SpoolError("cannot compact the spool: \(error)")
        }
        var fresh = SpoolState()
        for record in records { fresh.apply(record) }
        state = fresh
        if fd >= 0 { close(fd) }
        try openForAppend()
        sizeBytes = bytes.count
    }

    private func openForAppend() throws(SpoolError) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot open \(path) for writing: \(String(cString: strerror(errno)))") }
    }
}

/// The spool could not be read or written; the description says which file and why.
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

import KognitaCore

/// The spool's meaning, rebuilt by replaying its records: which batches still
/// need a final ack, where the chain continues, and the rule state. Pure: no I/O.
struct SpoolState {
    /// A batch that still needs a final ack, in chain order.
    struct Pending: Equatable {
        let signed: SignedBatch
        var id: BatchID { signed.id }
        var seq: UInt64 { signed.batch.seq }
    }

    private(set) var pending: [Pending] = []
    private(set) var setAside: [(id: BatchID, reason: String)] = []
    /// The seq and prev the next batch must carry.
    private(set) var nextSeq: UInt64 = 1
    private(set) var prev: BatchID = .zero
    /// The rule state as of the last batch made (opaque to the spool).
    private(set) var ruleState: [UInt8] = []
    /// Records that could not be applied (a batch that no longer verifies).
    private(set) var unusable = 0
    /// How far the network is proven to be (past our last final batch, or a
    /// head we re-chained on). Restored into the uplink after a restart, so a
    /// stale head queued on the broker cannot make it re-chain a final batch.
    private(set) var provenNextSeq: UInt64 = 0

    mutating func apply(_ record: SpoolRecord) {
        switch record {
        case .batch(let envelope, let state):
            guard let signed = try? SignedBatch.verify(envelope) else { unusable += 1; return }
            pending.append(Pending(signed: signed))
            nextSeq = signed.batch.seq + 1
            prev = signed.id
            ruleState = state
        case .final(let id):
            if let batch = pending.first(where: { $0.id == id }) { provenNextSeq = max(provenNextSeq, batch.seq + 1) }
            pending.removeAll { $0.id == id }
        case .setAside(let id, let reason):
            if pending.contains(where: { $0.id == id }) {
                pending.removeAll { $0.id == id }
                setAside.append((id, reason))
            }
        case .rechained(let ids, let next, let last, let replacements):
            provenNextSeq = max(provenNextSeq, next)
            let gone = Set(ids)
            pending.removeAll { gone.contains($0.id) }
            nextSeq = next
            prev = last
            for envelope in replacements {
                guard let signed = try? SignedBatch.verify(envelope) else { unusable += 1; continue }
                pending.append(Pending(signed: signed))
                nextSeq = signed.batch.seq + 1
                prev = signed.id
            }
        case .checkpoint(let next, let last, let state):
            nextSeq = next
            prev = last
            ruleState = state
        case .proven(let next):
            provenNextSeq = max(provenNextSeq, next)
        }
    }

    /// The fewest records that rebuild this state, for compaction. Batches set
    /// aside are dropped from the journal; they were logged when set aside.
    func compactedRecords() -> [SpoolRecord] {
        pending.map { .batch(envelope: $0.signed.envelope, ruleState: []) }
            + [.checkpoint(nextSeq: nextSeq, prev: prev, ruleState: ruleState), .proven(nextSeq: provenNextSeq)]
    }

    /// Bytes the compacted journal would take (what is still live): the same
    /// figure as encoding ``compactedRecords()``, without encoding the batches.
    var liveBytes: Int {
        pending.reduce(0) { $0 + SpoolRecord.batchRecordSize(envelopeBytes: $1.signed.envelope.count) }
            + SpoolRecord.checkpoint(nextSeq: nextSeq, prev: prev, ruleState: ruleState).encoded().count
            + SpoolRecord.proven(nextSeq: provenNextSeq).encoded().count
    }
}

import KognitaCore

/// Gathers verified votes and forms a certificate for each batch the moment
/// its voters reach a quorum (pure: the node feeds it votes and spreads what
/// comes out).
public struct CertificateAssembler: Sendable {
    public let committee: Committee
    private var signersByBatch: [BatchKey: [Certificate.Signer]] = [:]
    private var weightByBatch: [BatchKey: UInt64] = [:]
    private var certified: Set<BatchKey> = []
    // Insertion order, to evict the oldest incomplete entries when full: a
    // faulty validator voting for ids nobody else votes for must not grow
    // this without bound.
    private var order: [BatchKey] = []
    private var orderStart = 0
    /// The most batches waiting for a quorum at once.
    public let capacity: Int

    public init(committee: Committee, capacity: Int = 200_000) {
        self.committee = committee
        self.capacity = capacity
    }

    /// Adds a vote checked against this committee; returns the certificates
    /// it completes (each batch is certified once). They count as verified:
    /// every part comes from a vote that was.
    public mutating func add(_ vote: VerifiedVote) -> [VerifiedCertificate] {
        precondition(vote.vote.epoch == committee.epoch, "a vote of another epoch")
        var completed: [VerifiedCertificate] = []
        for id in vote.vote.keys where !certified.contains(id) {
            var signers = signersByBatch[id] ?? []
            if signers.isEmpty { track(id) }
            guard !signers.contains(where: { $0.validator == vote.vote.validator }), let signer = vote.signer(for: id) else { continue }
            signers.append(signer)
            let weight = (weightByBatch[id] ?? 0) + vote.weight
            if weight >= committee.quorumWeight {
                completed.append(VerifiedCertificate(certificate: Certificate(batch: id, network: committee.network, epoch: committee.epoch, signers: signers)))
                signersByBatch[id] = nil
                weightByBatch[id] = nil
                certified.insert(id)
            } else {
                signersByBatch[id] = signers
                weightByBatch[id] = weight
            }
        }
        return completed
    }

    /// Forgets everything about `id` (it is final; later votes for it are ignored
    /// only until then).
    public mutating func forget(_ id: BatchKey) {
        signersByBatch[id] = nil
        weightByBatch[id] = nil
        certified.remove(id)
    }

    /// Batches with some votes but no quorum yet.
    public var waitingCount: Int { signersByBatch.count }

    private mutating func track(_ id: BatchKey) {
        order.append(id)
        while order.count - orderStart > capacity {
            let oldest = order[orderStart]
            orderStart += 1
            signersByBatch[oldest] = nil
            weightByBatch[oldest] = nil
        }
        if orderStart > 4096 && orderStart * 2 > order.count {
            order.removeFirst(orderStart)
            orderStart = 0
        }
    }
}

import KognitaCore
import Prometheus

/// The node's Prometheus metrics (served on `GET /metrics`), and the same
/// counters for `GET /v1/status`.
public final class NodeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let batchesReceived: Counter
    let batchesForwarded: Counter
    let batchesFinal: Counter
    let transfersFinal: Counter
    let votesSent: Counter
    let votesReceived: Counter
    let certificatesFormed: Counter
    let peerConnections: Gauge
    let badFrames: Counter
    let badVotes: Counter
    let catchUpBatches: Counter
    let commitTransactions: Counter
    let checkpointsAdopted: Counter
    let epochMessagesRefused: Counter
    let submitToFinal: DurationHistogram
    private let rejections: [RejectReason: Counter]

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        func counter(_ name: String, _ help: String) -> Counter { registry.counter("kognita", name, help) }
        batchesReceived = counter("batches_received", "Batches received from clients and peers.")
        batchesForwarded = counter("batches_forwarded", "Client batches forwarded to the peers.")
        batchesFinal = counter("batches_final", "Certified batches applied to this node's ledger.")
        transfersFinal = counter("transfers_final", "Transfers in the certified batches applied.")
        votesSent = counter("votes_sent", "Votes this validator signed (each covers many batches).")
        votesReceived = counter("votes_received", "Verified votes received from validators.")
        certificatesFormed = counter("certificates_formed", "Certificates this node assembled from votes.")
        badFrames = counter("peer_connections_rejected", "Peer connections closed for a failed handshake or a malformed, oversize or unauthenticated frame.")
        badVotes = counter("votes_rejected", "Votes that failed verification.")
        catchUpBatches = counter("catch_up_batches", "Final batches fetched from peers while catching up.")
        commitTransactions = counter("commit_transactions", "SQLite transactions written by the group committer.")
        checkpointsAdopted = counter("checkpoints_adopted", "Checkpoints this node adopted (each starts an epoch).")
        epochMessagesRefused = counter("epoch_messages_refused", "Seal reports, proposals, checkpoint votes and checkpoints refused: not signed by a member of their epoch's committee, or not chaining to the last header.")
        peerConnections = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "kognita", metricName: "peer_connections", unitName: "count", helpText: "Open authenticated peer and client connections."))
        submitToFinal = registry.latencyHistogram("kognita", "submit_to_final", "From a client's submit to the final reply.")
        rejections = registry.countersByReason("kognita", "Batches this node refused, by the contract's reason.")
    }

    func rejected(_ reason: RejectReason) { rejections[reason]?.increment() }

    /// Adds what the core counted since `old` (its counters only grow).
    func mirror(from old: NodeCore.Counters, to new: NodeCore.Counters) {
        func add(_ counter: Counter, _ new: Int, _ old: Int) { if new > old { counter.increment(by: Int64(new - old)) } }
        add(batchesReceived, new.batchesReceived, old.batchesReceived)
        add(batchesForwarded, new.batchesForwarded, old.batchesForwarded)
        add(batchesFinal, new.batchesFinal, old.batchesFinal)
        add(transfersFinal, new.transfersFinal, old.transfersFinal)
        add(votesSent, new.votesSent, old.votesSent)
        add(votesReceived, new.votesReceived, old.votesReceived)
        add(certificatesFormed, new.certificatesFormed, old.certificatesFormed)
        add(catchUpBatches, new.catchUpBatches, old.catchUpBatches)
        add(badVotes, new.badVotes, old.badVotes)
        add(epochMessagesRefused, new.epochMessagesRefused, old.epochMessagesRefused)
        add(checkpointsAdopted, new.checkpointsAdopted, old.checkpointsAdopted)
        guard new.rejections != old.rejections else { return }
        for (reason, count) in new.rejections where count > old.rejections[reason] ?? 0 {
            rejections[reason]?.increment(by: Int64(count - (old.rejections[reason] ?? 0)))
        }
    }

    /// The Prometheus text exposition.
    public func exposition() -> String { registry.emitToString() }
}

extension PrometheusCollectorRegistry {
    /// A counter `<namespace>_<name>_total`.
    public func counter(_ namespace: String, _ name: String, _ help: String) -> Counter {
        makeCounter(descriptor: MetricNameDescriptor(namespace: namespace, metricName: name, unitName: "total", helpText: help))
    }

    /// `<namespace>_batches_rejected_total{reason="..."}`, one per contract reason.
    public func countersByReason(_ namespace: String, _ help: String) -> [RejectReason: Counter] {
        var counters: [RejectReason: Counter] = [:]
        for reason in RejectReason.allCases {
            counters[reason] = makeCounter(descriptor: MetricNameDescriptor(namespace: namespace, metricName: "batches_rejected", unitName: "total", helpText: help),
                                           labels: [("reason", reason.name)])
        }
        return counters
    }

    /// A latency histogram in seconds, with buckets from 10 ms to 5 s around the 1 s finality target.
    public func latencyHistogram(_ namespace: String, _ name: String, _ help: String) -> DurationHistogram {
        makeDurationHistogram(descriptor: MetricNameDescriptor(namespace: namespace, metricName: name, unitName: "seconds", helpText: help),
                              buckets: [.milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                        .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5)])
    }
}

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
    let submitToFinal: DurationHistogram
    private let rejections: [RejectReason: Counter]

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "kognita", metricName: name, unitName: "total", helpText: help))
        }
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
        peerConnections = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "kognita", metricName: "peer_connections", unitName: "count", helpText: "Open authenticated peer and client connections."))
        submitToFinal = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "kognita", metricName: "submit_to_final", unitName: "seconds", helpText: "From a client's submit to the final reply."),
            buckets: [.milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5)])
        var rejections: [RejectReason: Counter] = [:]
        for reason in RejectReason.allCases {
            rejections[reason] = registry.makeCounter(
                descriptor: MetricNameDescriptor(namespace: "kognita", metricName: "batches_rejected", unitName: "total", helpText: "Batches this node refused, by the contract's reason."),
                labels: [("reason", reason.name)])
        }
        self.rejections = rejections
    }

    func rejected(_ reason: RejectReason) { rejections[reason]?.increment() }

    /// The Prometheus text exposition.
    public func exposition() -> String { registry.emitToString() }
}

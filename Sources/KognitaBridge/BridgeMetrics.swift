import KognitaCore
import Prometheus

/// The bridge's Prometheus metrics (served on its local metrics port).
public final class BridgeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let received: Counter
    let forwarded: Counter
    let duplicates: Counter
    let syncs: Counter
    let failovers: Counter
    let inFlight: Gauge
    let nodesConnected: Gauge
    let submitToFinal: DurationHistogram
    private let rejections: [RejectReason: Counter]
    private let acks: [Ack.Status: Counter]

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "kognita_bridge", metricName: name, unitName: "total", helpText: help))
        }
        received = counter("batches_received", "Batches received from devices over MQTT.")
        forwarded = counter("batches_forwarded", "Batches forwarded to a node.")
        duplicates = counter("batches_duplicate", "Resends of a batch in flight or final, answered without forwarding.")
        syncs = counter("syncs", "Head requests (sync) answered.")
        failovers = counter("node_failovers", "Node connections lost (their work goes to the other nodes).")
        inFlight = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "kognita_bridge", metricName: "in_flight", unitName: "batches", helpText: "Batches forwarded and not yet final or rejected."))
        nodesConnected = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "kognita_bridge", metricName: "nodes_connected", unitName: "count", helpText: "Healthy node connections."))
        submitToFinal = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "kognita_bridge", metricName: "submit_to_final", unitName: "seconds", helpText: "From a batch's arrival at the bridge to its final ack."),
            buckets: [.milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5)])
        var rejections: [RejectReason: Counter] = [:]
        for reason in RejectReason.allCases {
            rejections[reason] = registry.makeCounter(
                descriptor: MetricNameDescriptor(namespace: "kognita_bridge", metricName: "batches_rejected", unitName: "total", helpText: "Batches rejected, by the contract's reason."),
                labels: [("reason", reason.name)])
        }
        self.rejections = rejections
        var acks: [Ack.Status: Counter] = [:]
        for status in [Ack.Status.accepted, .final, .rejected, .head] {
            acks[status] = registry.makeCounter(
                descriptor: MetricNameDescriptor(namespace: "kognita_bridge", metricName: "acks_published", unitName: "total", helpText: "Acks published to devices, by status."),
                labels: [("status", status.description)])
        }
        self.acks = acks
    }

    func rejected(_ reason: RejectReason) { rejections[reason]?.increment() }
    func acked(_ status: Ack.Status) { acks[status]?.increment() }

    /// The Prometheus text exposition.
    public func exposition() -> String { registry.emitToString() }
}

import KognitaCore
import KognitaNode
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
        func counter(_ name: String, _ help: String) -> Counter { registry.counter("kognita_bridge", name, help) }
        received = counter("batches_received", "Batches received from devices over MQTT.")
        forwarded = counter("batches_forwarded", "Batches forwarded to a node.")
        duplicates = counter("batches_duplicate", "Resends of a batch in flight or final, answered without forwarding.")
        syncs = counter("syncs", "Head requests (sync) answered.")
        failovers = counter("node_failovers", "Node connections lost (their work goes to the other nodes).")
        inFlight = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "kognita_bridge", metricName: "in_flight", unitName: "batches", helpText: "Batches forwarded and not yet final or rejected."))
        nodesConnected = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "kognita_bridge", metricName: "nodes_connected", unitName: "count", helpText: "Healthy node connections."))
        submitToFinal = registry.latencyHistogram("kognita_bridge", "submit_to_final", "From a batch's arrival at the bridge to its final ack.")
        rejections = registry.countersByReason("kognita_bridge", "Batches rejected, by the contract's reason.")
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

import KognitaAgent
import KognitaCore
import Synchronization

/// Keeps score of what the devices do: transfers produced and final, the
/// submit-to-final latency of every batch, what is pending, rejections.
/// Fed by the agents' observers (``AgentRuntime/Activity``) from their loops;
/// read once a second by the live view and at the end by the checks.
final class Scoreboard: Sendable {
    struct Device {
        /// A fingerprint (Swift's SipHash, seeded per process) of every transfer
        /// the device's rules produced, in order: the exactly-once check
        /// compares them with the transfers final in the ledger.
        var produced: [Int] = []
        /// Spooled batches not yet final: transfer count and first publish time.
        var pending: [BatchID: (transfers: Int, firstPublished: UInt64?)] = [:]
        var connected = false
    }

    /// Running totals, for the view and the report.
    struct Totals: Sendable {
        /// Transfers in spooled batches (new ones, not re-chained): what the
        /// exactly-once check holds the ledger to.
        var producedTransfers = 0
        /// Transfers the rules made, counted when made: the fleet's production
        /// per second, free of when batches happen to close.
        var madeTransfers = 0
        var finalTransfers = 0
        var finalBatches = 0
        var pendingTransfers = 0
        var pendingBatches = 0
        var connectedDevices = 0
        var rejections: [String: Int] = [:]
        var setAside = 0
    }

    private struct State {
        var devices: [Device]
        var totals = Totals()
        /// Submit-to-final latencies (ms) since the last ``takeWindow()``.
        var window: [UInt32] = []
        /// Every latency of the run (ms), the drain included.
        var latencies: [UInt32] = []
    }

    private let state: Mutex<State>

    init(devices: Int) {
        state = Mutex(State(devices: Array(repeating: Device(), count: devices)))
    }

    /// The observer for device `index` (see ``AgentRuntime/Options/observer``).
    func observer(for index: Int) -> @Sendable (AgentRuntime.Activity, UInt64) -> Void {
        { [self] activity, now in record(activity, device: index, now: now) }
    }

    private func record(_ activity: AgentRuntime.Activity, device index: Int, now: UInt64) {
        state.withLock { state in
            switch activity {
            case .produced(let count):
                state.totals.madeTransfers += count
            case .spooled(let batch, let rechained):
                let count = batch.batch.transfers.count
                state.devices[index].pending[batch.id] = (count, nil)
                state.totals.pendingTransfers += count
                state.totals.pendingBatches += 1
                if !rechained {
                    state.totals.producedTransfers += count
                    state.devices[index].produced.append(contentsOf: batch.batch.transfers.map(\.hashValue))
                }
            case .superseded(let ids):
                for id in ids { forget(id, device: index, in: &state) }
            case .setAside(let id):
                state.totals.setAside += 1
                forget(id, device: index, in: &state)
            case .published(let id):
                if let entry = state.devices[index].pending[id], entry.firstPublished == nil {
                    state.devices[index].pending[id] = (entry.transfers, now)
                }
            case .final(let id):
                guard let entry = forget(id, device: index, in: &state) else { return }
                state.totals.finalTransfers += entry.transfers
                state.totals.finalBatches += 1
                if let published = entry.firstPublished {
                    let latency = UInt32(clamping: now >= published ? now - published : 0)
                    state.window.append(latency)
                    state.latencies.append(latency)
                }
            case .rejected(let reason):
                state.totals.rejections[reason.name, default: 0] += 1
            case .connection(let up):
                guard state.devices[index].connected != up else { return }
                state.devices[index].connected = up
                state.totals.connectedDevices += up ? 1 : -1
            }
        }
    }

    @discardableResult
    private func forget(_ id: BatchID, device index: Int, in state: inout State) -> (transfers: Int, firstPublished: UInt64?)? {
        guard let entry = state.devices[index].pending.removeValue(forKey: id) else { return nil }
        state.totals.pendingTransfers -= entry.transfers
        state.totals.pendingBatches -= 1
        return entry
    }

    var totals: Totals { state.withLock { $0.totals } }

    /// The latencies since the last call, and the totals, at one instant.
    func takeWindow() -> (totals: Totals, latencies: [UInt32]) {
        state.withLock { state in
            defer { state.window.removeAll(keepingCapacity: true) }
            return (state.totals, state.window)
        }
    }

    /// Every latency of the run, in milliseconds.
    var measuredLatencies: [UInt32] { state.withLock { $0.latencies } }

    /// The fingerprints of the transfers device `index` produced.
    func produced(by index: Int) -> [Int] { state.withLock { $0.devices[index].produced } }

    /// Batches still pending, over all devices.
    var pendingBatches: Int { state.withLock { $0.totals.pendingBatches } }
}

/// Percentiles of latencies in milliseconds (nearest rank).
struct LatencySummary: Sendable, Equatable {
    var count = 0
    var p50 = 0.0
    var p90 = 0.0
    var p99 = 0.0
    var max = 0.0

    init(_ latencies: [UInt32]) {
        guard !latencies.isEmpty else { return }
        let sorted = latencies.sorted()
        func rank(_ p: Double) -> Double {
            Double(sorted[Swift.min(sorted.count - 1, Swift.max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))])
        }
        count = sorted.count
        p50 = rank(0.50)
        p90 = rank(0.90)
        p99 = rank(0.99)
        max = Double(sorted[sorted.count - 1])
    }

    /// The same figures in another unit (microseconds to milliseconds: 0.001).
    func scaled(by factor: Double) -> LatencySummary {
        var scaled = self
        scaled.p50 *= factor
        scaled.p90 *= factor
        scaled.p99 *= factor
        scaled.max *= factor
        return scaled
    }
}

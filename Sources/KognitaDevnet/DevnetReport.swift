import Foundation
import KognitaNode
import KognitaSystem

/// What a devnet run measured and found: printed as the summary and written
/// as the JSON report, from the same values (so the two always agree).
public struct DevnetReport: Sendable {
    /// How the run was set up (the command's options).
    public struct Settings: Sendable {
        var validators: Int
        var bridges: Int
        var devices: Int
        var realAgents: Int
        var rate: Int
        var batch: Int
        var duration: Int
        var killAt: Int?
        var directory: String
        /// Chaos: the mean seconds between kills (nil: none).
        var chaos: Double?
        /// Seeds the chaos schedule (printed, so a run can be replayed).
        var seed: UInt64
        /// Whether a latency probe device ran (one batch at a time).
        var probe: Bool
        /// The epoch length of the devnet's genesis.
        var epochSeconds: UInt64
        /// Extra nodes that join the committee part-way and leave again.
        var candidates: Int
        /// Test faults: validator index → permille of its votes it drops (--faulty).
        public var dropVotes: [Int: UInt64] = [:]
        /// The genesis minimum fee of a batch (fees pay validators and bridges).
        public var minimumFee: UInt64 = 20

        public init(validators: Int, bridges: Int, devices: Int, realAgents: Int, rate: Int, batch: Int, duration: Int, killAt: Int?,
                    directory: String, chaos: Double? = nil, seed: UInt64 = 0, probe: Bool = false, epochSeconds: UInt64 = 15,
                    candidates: Int = 0) {
            self.probe = probe
            self.epochSeconds = epochSeconds
            self.candidates = candidates
            self.chaos = chaos
            self.seed = seed
            self.validators = validators
            self.bridges = bridges
            self.devices = devices
            self.realAgents = realAgents
            self.rate = rate
            self.batch = batch
            self.duration = duration
            self.killAt = killAt
            self.directory = directory
        }
    }

    struct Usage: Sendable {
        var name: String
        var kind: String
        var cpuSeconds: Double
        var peakResidentBytes: Int
        var restarts: Int
    }

    var settings: Settings

    /// One finished epoch: its checkpoint as validator-1 holds it.
    struct CheckpointEntry: Sendable {
        var epoch: UInt64
        var digest: String
        /// The committee of this epoch (the one that signed this checkpoint).
        var committee: [String]
        var signers: [String]
        var round: UInt32
        /// From the epoch's end by the clocks to validator-1 adopting the checkpoint.
        var seconds: Double?
        /// The committee this checkpoint names for the next epoch.
        var nextCommittee: [String] = []
        /// Body 7: each rated node's rating and the epoch's measures.
        var ratings: [CheckpointResponse.Rating] = []
        /// Body 8: the validators' payouts for the epoch.
        var rewards: [CheckpointResponse.Reward] = []
        var feePool: UInt64?
        var burned: UInt64?
    }

    /// Readable names of node, candidate and bridge ids (hex).
    var names: [String: String] = [:]
    /// Each bridge's balance at the end: its share of the fees of the batches naming it.
    var bridgeRewards: [UInt64] = []
    /// Faulty validators: the checkpoint that left each out, and who took seats then.
    var votedOut: [(name: String, checkpoint: Int, replacedBy: [String])] = []
    /// Everything the checkpoints paid validators.
    var validatorRewards: UInt64 { checkpoints.reduce(0) { $0 + $1.rewards.reduce(0) { $0 + $1.amount } } }
    func name(_ id: String) -> String { names[id] ?? String(id.prefix(12)) }

    var checkpoints: [CheckpointEntry] = []
    var chainsIdentical = false
    var chainLengths: [Int] = []
    /// How many checkpoints named a committee different from their own.
    var committeeChanges: Int { checkpoints.indices.dropFirst().filter { checkpoints[$0].committee != checkpoints[$0 - 1].committee }.count }
    /// Seconds of load (production), as measured.
    var loadSeconds = 0.0
    var producedInLoad = 0
    var finalInLoad = 0
    /// Final transfers per second, one figure per frame of the live view (about a second each).
    var finalPerSecondSeries: [Int] = []
    /// Transfers produced (spooled by the devices) per second, one figure per frame.
    var producedPerSecondSeries: [Int] = []
    var drainSeconds = 0.0
    var produced = 0
    var final = 0
    var finalBatches = 0
    var lost = 0
    var duplicated = 0
    var pendingAfterDrain = 0
    var latency = LatencySummary([])
    /// Publish to final of the probe device's batches, one at a time.
    var probeLatency = LatencySummary([])
    var rejections: [String: Int] = [:]
    var setAside = 0
    var digests: [String] = []
    var totalMoney: [UInt64] = []
    var supply: UInt64 = 0
    var usage: [Usage] = []
    var problems: [String] = []
    /// Chaos kills by component kind ("validator", "bridge", "broker", "agent").
    var chaosKills: [String: Int] = [:]
    var totalChaosKills: Int { chaosKills.values.reduce(0, +) }

    var ledgersIdentical: Bool { !digests.isEmpty && Set(digests).count == 1 && !digests[0].isEmpty }
    var moneyConserved: Bool { !totalMoney.isEmpty && totalMoney.allSatisfy { $0 == supply } }
    /// Whether every check held.
    public var passed: Bool { problems.isEmpty }
    var finalPerSecond: Double { loadSeconds > 0 ? Double(finalInLoad) / loadSeconds : 0 }
    var producedPerSecond: Double { loadSeconds > 0 ? Double(producedInLoad) / loadSeconds : 0 }
    /// The mean of the whole seconds after the first 5 (the ramp-up: devices
    /// connecting, first batches filling) and before the last.
    var steadyFinalPerSecond: Double? {
        guard finalPerSecondSeries.count > 6 else { return nil }
        let steady = finalPerSecondSeries.dropFirst(5).dropLast()
        return Double(steady.reduce(0, +)) / Double(steady.count)
    }
    /// The lowest whole-second figure after the first 5 seconds (the ramp-up), for "sustained".
    var lowestSecond: Int? { finalPerSecondSeries.count > 6 ? finalPerSecondSeries.dropFirst(5).dropLast().min() : nil }
    /// Mean transfers produced per second after the ramp-up: what the fleet
    /// made of the offer (the simulator's own health, not the network's).
    var steadyProducedPerSecond: Double? {
        guard producedPerSecondSeries.count > 6 else { return nil }
        let steady = producedPerSecondSeries.dropFirst(5).dropLast()
        return Double(steady.reduce(0, +)) / Double(steady.count)
    }
    /// The lowest second of production after the ramp-up.
    var lowestProducedSecond: Int? { producedPerSecondSeries.count > 6 ? producedPerSecondSeries.dropFirst(5).dropLast().min() : nil }

    /// The summary printed at the end of a run.
    public var summary: String {
        var lines: [String] = [""]
        let plural = settings.bridges == 1 ? "" : "s"
        let agents = settings.realAgents > 0 ? " + \(settings.realAgents) kognita-agent processes" : ""
        lines.append("Kognita devnet: \(settings.validators) validators, \(settings.bridges) bridge\(plural), \(settings.devices) simulated devices\(agents)")
        lines.append("  offered     \(grouped(settings.rate)) transfers/s in batches of up to \(settings.batch)")
        let lowest: String = steadyFinalPerSecond.map { " (after the 5 s ramp-up: \(grouped($0))/s, lowest second \(grouped(lowestSecond ?? 0)))" } ?? ""
        lines.append(String(format: "  load        %.1f s: ", loadSeconds) + "produced \(grouped(producedPerSecond)) transfers/s, final \(grouped(finalPerSecond))/s")
        if !lowest.isEmpty { lines.append("             \(lowest.trimmingCharacters(in: .whitespaces))") }
        if let produced = steadyProducedPerSecond, let low = lowestProducedSecond {
            lines.append("             produced after the ramp-up: \(grouped(produced))/s, lowest second \(grouped(low)) (\(Int((Double(low) / Double(max(1, settings.rate)) * 100).rounded()))% of offered)")
        }
        lines.append(String(format: "  latency     submit to final p50 %.0f ms, p90 %.0f, p99 %.0f, max %.0f", latency.p50, latency.p90, latency.p99, latency.max)
                     + " (\(grouped(latency.count)) batches)")
        if settings.probe {
            lines.append(String(format: "  probe       one device, one batch at a time: p50 %.1f ms, p90 %.1f, p99 %.1f, max %.1f",
                                probeLatency.p50, probeLatency.p90, probeLatency.p99, probeLatency.max) + " (\(grouped(probeLatency.count)) batches)")
        }
        lines.append(String(format: "  drain       %.1f s until nothing was pending", drainSeconds))
        lines.append("  transfers   produced \(grouped(produced)), final \(grouped(final)) in \(grouped(finalBatches)) batches")
        lines.append("              lost \(lost), duplicated \(duplicated)")
        let rejected: String = rejections.isEmpty ? "none" : rejections.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        lines.append("  rejected    \(rejected)\(setAside > 0 ? "; \(setAside) batches set aside" : "")")
        let ledgers: String = ledgersIdentical ? "identical on all \(digests.count) nodes (digest \(digests[0].prefix(16))...)" : "DIFFER: \(digests.map { String($0.prefix(12)) })"
        lines.append("  ledgers     \(ledgers)")
        let money: String = moneyConserved ? "conserved: \(grouped(Int(clamping: supply))) on every node" : "NOT conserved: \(totalMoney) against supply \(supply)"
        lines.append("  money       \(money)")
        if !checkpoints.isEmpty {
            let sizes = checkpoints.map(\.committee.count)
            var path: [Int] = []
            for size in sizes where path.last != size { path.append(size) }
            let rounds = checkpoints.map(\.round).max() ?? 0
            let times = checkpoints.compactMap(\.seconds).sorted()
            let median = times.isEmpty ? "" : String(format: ", decided %.2f s after the epoch's end (median)", times[times.count / 2])
            lines.append("  epochs      \(checkpoints.count) checkpoints every \(settings.epochSeconds) s, committee sizes \(path.map(String.init).joined(separator: " -> ")) (\(committeeChanges) changes)")
            lines.append("              highest round \(rounds)\(median); chains \(chainsIdentical ? "identical on all \(chainLengths.count) nodes" : "DIFFER: lengths \(chainLengths)")")
        }
        if !checkpoints.isEmpty {
            let burned = checkpoints.last?.burned ?? 0
            lines.append("  rewards     validators \(grouped(Int(clamping: validatorRewards))) over \(checkpoints.count) checkpoints; bridges \(bridgeRewards.map { grouped(Int(clamping: $0)) }.joined(separator: ", ")); burned \(grouped(Int(clamping: burned)))")
            var rated = Set<String>()
            for entry in checkpoints { for rating in entry.ratings { rated.insert(rating.node) } }
            for node in rated.sorted(by: { name($0) < name($1) }) {
                let series = checkpoints.map { entry in entry.ratings.first { $0.node == node }.map { "\($0.rating)" } ?? "-" }
                lines.append("  rating      \(name(node).padding(toLength: 12, withPad: " ", startingAt: 0)) \(series.joined(separator: " "))")
            }
            for out in votedOut {
                lines.append("  voted out   \(out.name) at checkpoint \(out.checkpoint)\(out.replacedBy.isEmpty ? "" : ", replaced by \(out.replacedBy.joined(separator: ", "))")")
            }
        }
        if let chaos = settings.chaos {
            let kinds = ["validator", "bridge", "broker", "agent"].map { "\($0) \(chaosKills[$0] ?? 0)" }.joined(separator: ", ")
            lines.append("  chaos       \(totalChaosKills) kills (one every \(String(format: "%g", chaos)) s +-50%, seed \(settings.seed)): \(kinds)")
        }
        lines.append("  processes   cpu seconds / peak RSS MiB:")
        for row in usage {
            let name = row.name.padding(toLength: max(13, row.name.count), withPad: " ", startingAt: 0)
            let restarted = row.restarts > 0 ? " (restarted \(row.restarts)x)" : ""
            lines.append("    \(name)" + String(format: " %8.1f s %8.1f MiB", row.cpuSeconds, Double(row.peakResidentBytes) / 1_048_576) + restarted)
        }
        lines.append("  data        \(settings.directory)")
        lines.append(passed ? "PASSED: nothing lost or paid twice; ledgers and checkpoint chains identical; money conserved."
                            : "FAILED:\n" + problems.map { "  - \($0)" }.joined(separator: "\n"))
        return lines.joined(separator: "\n")
    }

    private static func number(_ value: Double) -> String { String(format: "%.3f", value) }

    private func ratingJSON(_ rating: CheckpointResponse.Rating) -> String {
        JSONText.object([
            ("node", JSONText.string(rating.node)), ("name", JSONText.string(name(rating.node))),
            ("rating", "\(rating.rating)"), ("measure", rating.measure.map { "\($0)" } ?? "null"),
            ("slashed", rating.slashed ? "true" : "false"),
            ("window", "[" + rating.window.map(String.init).joined(separator: ",") + "]"),
        ])
    }

    private func rewardJSON(_ reward: CheckpointResponse.Reward) -> String {
        JSONText.object([
            ("node", JSONText.string(reward.node)), ("name", JSONText.string(name(reward.node))),
            ("account", JSONText.string(reward.account)), ("amount", "\(reward.amount)"),
        ])
    }

    private func checkpointJSON(_ entry: CheckpointEntry) -> String {
        let ratings: [String] = entry.ratings.map(ratingJSON)
        let rewards: [String] = entry.rewards.map(rewardJSON)
        let fields: [(String, String)] = [
            ("epoch", "\(entry.epoch)"), ("digest", JSONText.string(entry.digest)),
            ("committee", "[" + entry.committee.map(JSONText.string).joined(separator: ",") + "]"),
            ("signers", "[" + entry.signers.map(JSONText.string).joined(separator: ",") + "]"),
            ("round", "\(entry.round)"), ("seconds", entry.seconds.map(Self.number) ?? "null"),
            ("next_committee", "[" + entry.nextCommittee.map(JSONText.string).joined(separator: ",") + "]"),
            ("ratings", "[" + ratings.joined(separator: ",") + "]"),
            ("rewards", "[" + rewards.joined(separator: ",") + "]"),
            ("fee_pool", entry.feePool.map { "\($0)" } ?? "null"), ("burned", entry.burned.map { "\($0)" } ?? "null"),
        ]
        return JSONText.object(fields)
    }

    private var checkpointsJSON: String { "[" + checkpoints.map(checkpointJSON).joined(separator: ",") + "]" }

    private var governanceJSON: String {
        let faulty: [(String, String)] = settings.dropVotes.sorted { $0.key < $1.key }.map {
            ("validator-\($0.key + 1)", JSONText.object([("drop_votes_permille", "\($0.value)")]))
        }
        let out: [String] = votedOut.map { out in
            JSONText.object([
                ("name", JSONText.string(out.name)), ("checkpoint", "\(out.checkpoint)"),
                ("replaced_by", "[" + out.replacedBy.map(JSONText.string).joined(separator: ",") + "]"),
            ])
        }
        return JSONText.object([
            ("validator_rewards", "\(validatorRewards)"),
            ("bridge_rewards", "[" + bridgeRewards.map(String.init).joined(separator: ",") + "]"),
            ("burned", checkpoints.last?.burned.map { "\($0)" } ?? "0"),
            ("faulty", JSONText.object(faulty)),
            ("voted_out", "[" + out.joined(separator: ",") + "]"),
        ])
    }

    /// The report as JSON (`--report`).
    public var json: String {
        func number(_ value: Double) -> String { String(format: "%.3f", value) }
        return JSONText.object([
            ("passed", passed ? "true" : "false"),
            ("problems", "[" + problems.map(JSONText.string).joined(separator: ",") + "]"),
            ("settings", JSONText.object([
                ("validators", "\(settings.validators)"), ("bridges", "\(settings.bridges)"), ("devices", "\(settings.devices)"),
                ("real_agents", "\(settings.realAgents)"), ("offered_transfers_per_second", "\(settings.rate)"),
                ("batch", "\(settings.batch)"), ("duration_seconds", "\(settings.duration)"),
                ("kill_at_seconds", settings.killAt.map { "\($0)" } ?? "null"), ("data", JSONText.string(settings.directory)),
                ("chaos_seconds", settings.chaos.map(number) ?? "null"), ("seed", "\(settings.seed)"),
                ("epoch_seconds", "\(settings.epochSeconds)"), ("candidates", "\(settings.candidates)"),
                ("minimum_fee", "\(settings.minimumFee)"),
            ])),
            ("checkpoints", checkpointsJSON),
            ("governance", governanceJSON),
            ("checkpoint_chains", JSONText.object([
                ("identical", chainsIdentical ? "true" : "false"),
                ("lengths", "[" + chainLengths.map(String.init).joined(separator: ",") + "]"),
                ("committee_changes", "\(committeeChanges)"),
            ])),
            ("chaos", JSONText.object([
                ("total_kills", "\(totalChaosKills)"),
                ("kills", JSONText.object(["validator", "bridge", "broker", "agent"].map { ($0, "\(chaosKills[$0] ?? 0)") })),
            ])),
            ("throughput", JSONText.object([
                ("load_seconds", number(loadSeconds)),
                ("produced_transfers_per_second", number(producedPerSecond)),
                ("final_transfers_per_second", number(finalPerSecond)),
                ("steady_final_transfers_per_second", steadyFinalPerSecond.map(number) ?? "null"),
                ("lowest_second_after_ramp_up", lowestSecond.map { "\($0)" } ?? "null"),
                ("final_per_second", "[" + finalPerSecondSeries.map(String.init).joined(separator: ",") + "]"),
                ("steady_produced_transfers_per_second", steadyProducedPerSecond.map(number) ?? "null"),
                ("lowest_produced_second_after_ramp_up", lowestProducedSecond.map { "\($0)" } ?? "null"),
                ("produced_per_second", "[" + producedPerSecondSeries.map(String.init).joined(separator: ",") + "]"),
                ("drain_seconds", number(drainSeconds)),
            ])),
            ("latency_ms", JSONText.object([
                ("batches", "\(latency.count)"), ("p50", number(latency.p50)), ("p90", number(latency.p90)),
                ("p99", number(latency.p99)), ("max", number(latency.max)),
            ])),
            ("probe_latency_ms", JSONText.object([
                ("batches", "\(probeLatency.count)"), ("p50", number(probeLatency.p50)), ("p90", number(probeLatency.p90)),
                ("p99", number(probeLatency.p99)), ("max", number(probeLatency.max)),
            ])),
            ("transfers", JSONText.object([
                ("produced", "\(produced)"), ("final", "\(final)"), ("final_batches", "\(finalBatches)"),
                ("lost", "\(lost)"), ("duplicated", "\(duplicated)"), ("pending_after_drain", "\(pendingAfterDrain)"),
                ("set_aside_batches", "\(setAside)"),
            ])),
            ("rejections", JSONText.object(rejections.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") })),
            ("ledger", JSONText.object([
                ("identical", ledgersIdentical ? "true" : "false"),
                ("digests", "[" + digests.map(JSONText.string).joined(separator: ",") + "]"),
                ("money_conserved", moneyConserved ? "true" : "false"),
                ("total_money", "[" + totalMoney.map(String.init).joined(separator: ",") + "]"),
                ("supply", "\(supply)"),
            ])),
            ("components", "[" + usage.map { row in
                JSONText.object([
                    ("name", JSONText.string(row.name)), ("kind", JSONText.string(row.kind)),
                    ("cpu_seconds", number(row.cpuSeconds)), ("peak_rss_bytes", "\(row.peakResidentBytes)"),
                    ("restarts", "\(row.restarts)"),
                ])
            }.joined(separator: ",") + "]"),
        ]) + "\n"
    }
}

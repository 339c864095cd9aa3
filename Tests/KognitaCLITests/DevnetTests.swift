import Foundation
import KognitaTesting
import Testing

/// `kognita devnet` end to end, short: real nodes, bridge, broker and agents,
/// and the run's own end-of-run checks read back from its JSON report.
@Suite("kognita devnet (real processes)", .serialized)
struct DevnetTests {
    /// Runs the devnet in `dir/net` and returns its exit status, output and report.
    private func devnet(_ arguments: [String], in dir: String) async throws -> (status: Int32, output: String, report: [String: Any]) {
        let result = try await CLI.run(["devnet", "--data", "\(dir)/net", "--report", "\(dir)/report.json"] + arguments)
        let text = (try? String(contentsOfFile: "\(dir)/report.json", encoding: .utf8)) ?? "{}"
        return (result.status, result.stdout + result.stderr, try CLI.parseJSON(text))
    }

    private func checks(_ report: [String: Any]) -> (lost: Int, duplicated: Int, produced: Int, final: Int, identical: Bool, conserved: Bool) {
        let transfers = report["transfers"] as? [String: Any] ?? [:]
        let ledger = report["ledger"] as? [String: Any] ?? [:]
        func int(_ value: Any?) -> Int { (value as? NSNumber)?.intValue ?? -1 }
        return (int(transfers["lost"]), int(transfers["duplicated"]), int(transfers["produced"]), int(transfers["final"]),
                ledger["identical"] as? Bool ?? false, ledger["money_conserved"] as? Bool ?? false)
    }

    /// No process of the run is left: none has the run's directory on its command line.
    private func strays(of dir: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid -> String? in
            guard Int(pid) != nil, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return line.contains(dir) ? "\(pid): \(line)" : nil
        }
    }

    @Test("a short run: every transfer produced is final exactly once, ledgers identical, money conserved, nothing left running")
    func shortRun() async throws {
        try await TemporaryDirectory.with { dir in
            let run = try await devnet(["--validators", "4", "--devices", "6", "--rate", "240", "--batch", "16", "--duration", "5", "--real-agents", "1"], in: dir)
            #expect(run.status == 0, "\(run.output.suffix(3000))")
            let c = checks(run.report)
            #expect(c.produced > 200, "the devices produced \(c.produced) transfers")
            #expect(c.final == c.produced)
            #expect(c.lost == 0 && c.duplicated == 0)
            #expect(c.identical && c.conserved)
            #expect(run.report["passed"] as? Bool == true)
            #expect(run.output.contains("PASSED"))
            // The summary and the report carry the same figures.
            #expect(run.output.contains("produced \(grouped(c.produced)), final \(grouped(c.final))"))
            let components = run.report["components"] as? [[String: Any]] ?? []
            #expect(Set(components.compactMap { $0["name"] as? String }).isSuperset(of: ["validator-1", "validator-4", "bridge-1", "broker", "devices", "agent-1"]))
            #expect(components.allSatisfy { (($0["cpu_seconds"] as? NSNumber)?.doubleValue ?? 0) > 0 && (($0["peak_rss_bytes"] as? NSNumber)?.intValue ?? 0) > 0 })
            #expect(strays(of: dir).isEmpty, "\(strays(of: dir))")
        }
    }

    @Test("a crash drill: one validator and the bridge are SIGKILLed and restarted part-way, and still nothing is lost or paid twice")
    func crashDrill() async throws {
        try await TemporaryDirectory.with { dir in
            let run = try await devnet(["--validators", "4", "--devices", "8", "--rate", "320", "--batch", "16", "--duration", "10", "--kill-at", "3"], in: dir)
            #expect(run.status == 0, "\(run.output.suffix(3000))")
            let c = checks(run.report)
            #expect(c.produced > 1000)
            #expect(c.final == c.produced && c.lost == 0 && c.duplicated == 0)
            #expect(c.identical && c.conserved)
            let components = run.report["components"] as? [[String: Any]] ?? []
            let restarts = Dictionary(uniqueKeysWithValues: components.compactMap { row in
                (row["name"] as? String).map { ($0, (row["restarts"] as? NSNumber)?.intValue ?? 0) }
            })
            #expect(restarts["validator-4"] == 1 && restarts["bridge-1"] == 1, "\(restarts)")
            #expect(run.output.contains("crash drill"))
            #expect(strays(of: dir).isEmpty, "\(strays(of: dir))")
        }
    }

    @Test("at a low offer the fleet produces what it is offered (at least 90% a second after the ramp-up), and every second of the load has its frame")
    func producesWhatItIsOffered() async throws {
        try await TemporaryDirectory.with { dir in
            let run = try await devnet(["--devices", "40", "--rate", "400", "--batch", "16", "--duration", "14"], in: dir)
            #expect(run.status == 0, "\(run.output.suffix(3000))")
            let throughput = run.report["throughput"] as? [String: Any] ?? [:]
            let steady = (throughput["steady_produced_transfers_per_second"] as? NSNumber)?.doubleValue ?? 0
            #expect(steady >= 0.9 * 400, "the fleet produced \(steady)/s of 400 offered after the ramp-up")
            // One figure per second of the load: no second of the view went missing.
            #expect((throughput["final_per_second"] as? [Any])?.count == 14)
            #expect((throughput["produced_per_second"] as? [Any])?.count == 14)
            let c = checks(run.report)
            #expect(c.final == c.produced && c.lost == 0 && c.duplicated == 0)
        }
    }

    @Test("a short chaos run: validators, the bridge, the broker and a real agent are SIGKILLed and restarted, and nothing is lost or paid twice")
    func shortChaos() async throws {
        try await TemporaryDirectory.with { dir in
            let run = try await devnet(["--devices", "20", "--rate", "200", "--batch", "16", "--duration", "24", "--chaos", "1.5", "--seed", "7"], in: dir)
            #expect(run.status == 0, "\(run.output.suffix(3000))")
            let c = checks(run.report)
            #expect(c.produced > 1000)
            #expect(c.final == c.produced && c.lost == 0 && c.duplicated == 0)
            #expect(c.identical && c.conserved)
            let chaos = run.report["chaos"] as? [String: Any] ?? [:]
            let kills = chaos["kills"] as? [String: Any] ?? [:]
            let total = (chaos["total_kills"] as? NSNumber)?.intValue ?? 0
            #expect(total >= 8, "\(chaos)")
            // Each kind is drawn a quarter of the time: over 8 or more kills, at least two kinds.
            #expect(kills.values.filter { (($0 as? NSNumber)?.intValue ?? 0) > 0 }.count >= 2, "\(kills)")
            // Every kill was a restart: the components' restart counts add up to the kills (plus the agent's drain restart).
            let components = run.report["components"] as? [[String: Any]] ?? []
            let restarts = components.compactMap { ($0["restarts"] as? NSNumber)?.intValue }.reduce(0, +)
            #expect(restarts == total + 1, "restarts \(restarts), kills \(total)")
            #expect(run.output.contains("chaos "))
            #expect(strays(of: dir).isEmpty, "\(strays(of: dir))")
        }
    }

    @Test("bad settings are refused with one line that says what to change")
    func badSettings() async throws {
        let result = try await CLI.run(["devnet", "--kill-at", "50", "--duration", "10"])
        #expect(result.status != 0 && result.hasOneLineError && result.stderr.contains("--kill-at"))
    }

    private func grouped(_ value: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        formatter.usesGroupingSeparator = true
        return formatter.string(from: NSNumber(value: value)) ?? "\(value)"
    }
}

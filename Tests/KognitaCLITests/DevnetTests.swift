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

import ArgumentParser
import Dispatch
import Foundation
import KognitaDevnet
import KognitaLedger
import KognitaSystem

/// `kognita devnet`: a whole network on this machine, driven by simulated
/// devices, with a live view, end-of-run checks and a report.
struct DevnetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devnet",
        abstract: "Run a whole Kognita network on this machine with simulated devices; check and report it.",
        discussion: """
            Makes a fresh network in a temporary directory (or --data): a genesis with the validators and \
            a faucet, mosquitto with the project's broker config (Config/mosquitto.conf, through \
            Scripts/local-broker.sh) on free ports, the validator nodes, the bridges, and --devices simulated \
            devices: the real agent library (rules, batcher, spool, uplink, one MQTT connection each) reading \
            simulated meters, many in this process, funded from the faucet. --real-agents K adds K \
            kognita-agent processes.

            For --duration seconds the devices produce --rate transfers per second in all; the view shows \
            throughput, submit-to-final latency, what is pending, rejections and every process (one log line \
            a second when the output is not a terminal). Then production stops, everything pending becomes \
            final, and the run checks that every node holds the same ledger, that money is conserved and that \
            every transfer produced is final exactly once. It prints a summary, writes --report, stops every \
            process it started, and exits 1 if any check failed. Ctrl-C ends the load early (a second Ctrl-C \
            skips the waiting).
            """)

    @Option(help: ArgumentHelp("Epoch length: the committee agrees on a checkpoint this often (short, so a one-minute run sees several).", valueName: "seconds"))
    var epochSeconds: UInt64 = 15

    @Option(help: ArgumentHelp("Extra nodes that bond, register and join the committee part-way through the load, then unbond and leave.", valueName: "K"))
    var candidates = 0

    @Option(help: ArgumentHelp("A test fault, never on by default: validator-N:drop-votes=F makes validator N drop the share F (0 to 1) of its votes, to watch its rating fall and the network vote it out. Repeatable.", valueName: "node:fault"))
    var faulty: [String] = []

    @Option(help: "Validator nodes (1 to 16).")
    var validators = 4
    @Option(help: "Bridges (1 to 8).")
    var bridges = 1
    @Option(help: "Simulated devices (1 to 5000).")
    var devices = 1000
    @Option(help: ArgumentHelp("Transfers per second produced by all the devices together.", valueName: "tx/s"))
    var rate = 10_000
    @Option(help: "Most transfers in one batch (1 to 1024).")
    var batch = 64
    @Option(help: ArgumentHelp("Seconds of load.", valueName: "seconds"))
    var duration = 45
    @Option(help: ArgumentHelp("Write the report (JSON) here.", valueName: "file"))
    var report: String?
    @Option(help: ArgumentHelp("Make the network in this directory (new or empty) and keep it; default: a temporary directory, removed after a passing run.", valueName: "dir"))
    var data: String?
    @Option(help: ArgumentHelp("Also run this many real kognita-agent processes.", valueName: "K"))
    var realAgents = 0
    @Option(help: ArgumentHelp("Crash drill: this many seconds into the load, SIGKILL one validator and the first bridge, and restart them a second later.", valueName: "seconds"))
    var killAt: Int?
    @Option(help: ArgumentHelp("Chaos: SIGKILL a random validator, bridge, the broker or a kognita-agent every SECONDS +-50% of the load, and restart it a second later; never more than f validators down. Adds one --real-agents if there is none.", valueName: "seconds"))
    var chaos: Double?
    @Option(help: ArgumentHelp("Seed of the chaos schedule (default: random; printed so a run can be replayed).", valueName: "n"))
    var seed: UInt64?
    @Flag(help: "Also run a latency probe: one more device that publishes a one-transfer batch, waits for it to be final, and sends the next; its publish-to-final percentiles are in the summary and the report.")
    var probe = false

    func validate() throws {
        guard (1...16).contains(validators) else { throw CLIError("--validators must be from 1 to 16") }
        guard (1...8).contains(bridges) else { throw CLIError("--bridges must be from 1 to 8") }
        guard (1...5000).contains(devices) else { throw CLIError("--devices must be from 1 to 5000") }
        guard (0...16).contains(realAgents) else { throw CLIError("--real-agents must be from 0 to 16") }
        guard (0...8).contains(candidates) else { throw CLIError("--candidates must be from 0 to 8") }
        guard validators + candidates <= EpochRules.defaultCommitteeSize else {
            throw CLIError("--validators plus --candidates must fit the committee size (\(EpochRules.defaultCommitteeSize))")
        }
        guard (1...86_400).contains(epochSeconds) else { throw CLIError("--epoch-seconds must be from 1 to 86400, not \(epochSeconds)") }
        guard (1...1024).contains(batch) else { throw CLIError("--batch must be from 1 to 1024") }
        guard (1...86_400).contains(duration) else { throw CLIError("--duration must be from 1 to 86400 seconds") }
        guard rate >= 1, Double(rate) / Double(devices + realAgents) <= 400 else {
            throw CLIError("--rate must be at least 1 and at most 400 transfers per second per device; add --devices for more")
        }
        if let killAt, !(1..<duration).contains(killAt) { throw CLIError("--kill-at must be within the load: 1 to \(duration - 1) seconds") }
        if let chaos, !(chaos >= 0.5 && chaos <= 3600) { throw CLIError("--chaos must be from 0.5 to 3600 seconds between kills") }
        if chaos != nil && killAt != nil { throw CLIError("--chaos and --kill-at are two ways to kill processes: give one of them") }
        _ = try dropVotes()
    }

    /// `--faulty validator-N:drop-votes=F`, by validator index.
    func dropVotes() throws -> [Int: UInt64] {
        var result: [Int: UInt64] = [:]
        for fault in faulty {
            let parts = fault.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0].hasPrefix("validator-"), let number = Int(parts[0].dropFirst("validator-".count)),
                  (1...validators).contains(number) else {
                throw CLIError("--faulty \(fault): name a validator from validator-1 to validator-\(validators), as in validator-2:drop-votes=0.3")
            }
            let setting = parts[1].split(separator: "=", maxSplits: 1).map(String.init)
            guard setting.count == 2, setting[0] == "drop-votes", let share = Double(setting[1]), share >= 0, share <= 1 else {
                throw CLIError("--faulty \(fault): the one fault is drop-votes=F with F from 0 to 1, as in validator-2:drop-votes=0.3")
            }
            result[number - 1] = UInt64((share * 1000).rounded())
        }
        return result
    }

    func run() throws {
        // Chaos kills a real kognita-agent too: there must be one.
        let realAgents = chaos != nil ? max(1, self.realAgents) : self.realAgents
        let tools = try Self.findTools(needAgent: realAgents > 0)
        raiseOpenFileLimit(needed: devices * 2 + 256)
        let temporary = data == nil
        let directory: String
        if let data {
            directory = URL(fileURLWithPath: data).standardizedFileURL.path
            let existing = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            guard existing.isEmpty else { throw CLIError("--data \(directory) is not empty; a devnet is always made fresh: name a new directory") }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } else {
            var template = Array("\(NSTemporaryDirectory().trimmingSuffix("/"))/kognita-devnet-XXXXXX".utf8CString)
            guard mkdtemp(&template) != nil else { throw CLIError("cannot make a temporary directory: \(String(cString: strerror(errno)))") }
            directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        let settings = DevnetReport.Settings(validators: validators, bridges: bridges, devices: devices, realAgents: realAgents, rate: rate,
                                             batch: batch, duration: duration, killAt: killAt, directory: directory,
                                             chaos: chaos, seed: seed ?? UInt64.random(in: 1...999_999), probe: probe,
                                             epochSeconds: epochSeconds, candidates: candidates)
        var settingsWithFaults = settings
        settingsWithFaults.dropVotes = try dropVotes()
        let devnet = DevnetRun(settings: settingsWithFaults, tools: tools)

        // Ctrl-C ends the load early, a second one skips the waiting; the
        // processes are stopped either way.
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { devnet.interrupts.withLock { $0 += 1 } }
            source.resume()
            sources.append(source)
        }
        defer { sources.forEach { $0.cancel() } }

        let result: DevnetReport
        do { result = try blocking { try await devnet.run() } } catch let error as DevnetError {
            throw CLIError("\(error)\n(the network's files and logs are in \(directory))")
        } catch {
            throw CLIError("\(error)\n(the network's files and logs are in \(directory))")
        }
        print(result.summary)
        if let report {
            do throws(FileError) { try FileIO.writeAtomically(Array(result.json.utf8), to: report, mode: 0o644, replace: true) } catch {
                throw CLIError("cannot write the report to \(report): \(error.message)")
            }
            print("report written to \(report)")
        }
        if result.passed && temporary { try? FileManager.default.removeItem(atPath: directory) }
        if !result.passed { throw CLIError("the devnet run failed its checks (see above); logs are in \(directory)") }
    }

    /// The programs the devnet runs: ours next to this executable, mosquitto
    /// from the system, and the broker script of the source tree.
    static func findTools(needAgent: Bool) throws -> DevnetNetwork.Tools {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let binaries = executable.deletingLastPathComponent().path
        func ours(_ name: String) throws -> String {
            let path = "\(binaries)/\(name)"
            guard access(path, X_OK) == 0 else {
                throw CLIError("\(path) is missing: build it first (swift build -c release, or make devnet)")
            }
            return path
        }
        func system(_ name: String, in directories: [String]) throws -> String {
            for directory in directories where access("\(directory)/\(name)", X_OK) == 0 { return "\(directory)/\(name)" }
            throw CLIError("\(name) is not installed: run make setup (it installs mosquitto)")
        }
        var script: String?
        for start in [binaries, FileManager.default.currentDirectoryPath] {
            var directory = URL(fileURLWithPath: start)
            for _ in 0..<6 {
                let candidate = directory.appendingPathComponent("Scripts/local-broker.sh").path
                if access(candidate, R_OK) == 0 && access(directory.appendingPathComponent("Config/mosquitto.conf").path, R_OK) == 0 {
                    script = candidate
                    break
                }
                directory.deleteLastPathComponent()
            }
            if script != nil { break }
        }
        guard let script else {
            throw CLIError("cannot find Scripts/local-broker.sh and Config/mosquitto.conf: run kognita devnet from the Kognita source tree")
        }
        return .init(node: try ours("kognita-node"), bridge: try ours("kognita-bridge"),
                     agent: needAgent ? try ours("kognita-agent") : "\(binaries)/kognita-agent",
                     mosquitto: try system("mosquitto", in: ["/usr/sbin", "/usr/local/sbin", "/usr/bin"]),
                     mosquittoPasswd: try system("mosquitto_passwd", in: ["/usr/bin", "/usr/local/bin", "/usr/sbin"]),
                     brokerScript: script)
    }

    /// Each device holds a spool file and a socket, and the broker inherits the limit.
    private func raiseOpenFileLimit(needed: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        if Int(limit.rlim_cur) < needed {
            print("devnet: warning: the open-file limit is \(limit.rlim_cur) and \(needed) may be needed; raise it (ulimit -n) or use fewer --devices")
        }
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) && count > 1 ? String(dropLast(suffix.count)) : self }
}

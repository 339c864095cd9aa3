import Foundation
import KognitaAgent
import KognitaCore
import KognitaLedger
import KognitaNode
import KognitaSystem
import Synchronization

/// One devnet run: make the network, start it, fund and start the devices,
/// show the live view during the load, drain, check, report, and stop every
/// process whatever happens.
public final class DevnetRun: Sendable {
    public let settings: DevnetReport.Settings
    public let tools: DevnetNetwork.Tools
    /// Ctrl-C (or SIGTERM) count: 1 ends the load early, 2 skips the waiting.
    public let interrupts = Mutex(0)
    /// When the real agents' simulated meters were at zero (ms since the
    /// Unix epoch): they keep counting across restarts, as a real meter does.
    private let meterStart = WallClock.unixMillis()
    /// The one-batch-at-a-time device (`--probe`); registered with the broker either way.
    private let probe = LatencyProbe()

    public init(settings: DevnetReport.Settings, tools: DevnetNetwork.Tools) {
        self.settings = settings
        self.tools = tools
    }

    /// A real `kognita-agent` process of the run.
    struct RealAgent: Sendable {
        let component: Component
        let key: SigningKey
        let home: String
        var statusFile: String { "\(home)/status.json" }
    }

    /// Makes the network, runs the load, drains, checks, and stops every process.
    public func run() async throws -> DevnetReport {
        var printer = FramePrinter()
        let directory = settings.directory
        printer.note("devnet: making a network in \(directory)")

        // Keys and broker passwords for every device.
        let deviceCount = settings.devices
        var devices: [DeviceFleet.Device] = []
        for index in 0..<deviceCount {
            let home = "\(directory)/devices/\(String(format: "%04d", index + 1))"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            let key = SigningKey()
            do throws(FileError) { try KeyFile.save(key, to: "\(home)/device.key", replace: false) } catch {
                throw DevnetError("cannot write a device key in \(home): \(error.message)")
            }
            devices.append(.init(index: index, key: key, directory: home, brokerPassword: Hex.encode(Sodium.randomBytes(16))))
        }
        var realAgentKeys: [(SigningKey, String, String)] = []
        for index in 0..<settings.realAgents {
            let home = "\(directory)/agent-\(index + 1)"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            let key = SigningKey()
            do throws(FileError) { try KeyFile.save(key, to: "\(home)/device.key", replace: false) } catch {
                throw DevnetError("cannot write a device key in \(home): \(error.message)")
            }
            realAgentKeys.append((key, home, Hex.encode(Sodium.randomBytes(16))))
        }

        let network = try DevnetNetwork(directory: directory, tools: tools, validators: settings.validators, bridges: settings.bridges,
                                        devices: devices.map { ($0.key.publicKey, $0.brokerPassword) } + realAgentKeys.map { ($0.0.publicKey, $0.2) }
                                            + [(probe.key.publicKey, probe.brokerPassword)],
                                        rules: EpochRules(epochMillis: settings.epochSeconds * 1000), candidates: settings.candidates,
                                        dropVotes: settings.dropVotes, minimumFee: settings.minimumFee)
        var realAgents: [RealAgent] = []
        do {
            let report = try await run(network: network, devices: devices, realAgentKeys: realAgentKeys, realAgents: &realAgents, printer: &printer)
            return report
        } catch {
            for agent in realAgents { agent.component.stop() }
            network.stopAll()
            throw error
        }
    }

    private func run(network: DevnetNetwork, devices: [DeviceFleet.Device], realAgentKeys: [(SigningKey, String, String)],
                     realAgents: inout [RealAgent], printer: inout FramePrinter) async throws -> DevnetReport {
        var report = DevnetReport(settings: settings)
        report.supply = network.genesis.supply.baseUnits

        try await network.startBroker()
        printer.note("devnet: mosquitto on 127.0.0.1:\(network.brokerPort) (Config/mosquitto.conf, \(devices.count + realAgentKeys.count) devices registered)")
        for index in network.validators.indices { try network.validators[index].start() }
        for index in network.validators.indices { try await network.waitUntilReady(index) }
        printer.note("devnet: \(network.validators.count) validators ready (HTTP \(network.nodeURL(0)) ...); epochs of \(settings.epochSeconds) s")
        if !network.candidates.isEmpty {
            try await network.startCandidates()
            printer.note("devnet: \(network.candidates.count) candidate nodes running as full nodes; they bond and register at \(Int(Double(settings.duration) * Self.joinAt)) s and unbond at \(Int(Double(settings.duration) * Self.leaveAt)) s")
        }
        for index in network.bridges.indices { try await network.startBridge(index) }
        printer.note("devnet: \(network.bridges.count) bridge\(network.bridges.count == 1 ? "" : "s") connected to every node and the broker")

        // Fund every device from the faucet: enough for the run several times over.
        let perDevice = Double(settings.rate) / Double(max(1, devices.count + realAgentKeys.count))
        let allowance = UInt64(max(1_000, perDevice * Double(settings.duration + 600) * 4))
        try await network.fund(devices.map(\.key.publicKey) + realAgentKeys.map(\.0.publicKey) + (settings.probe ? [probe.key.publicKey] : []),
                               amount: allowance)
        printer.note("devnet: \(devices.count + realAgentKeys.count) devices funded from the faucet (\(grouped(Int(allowance))) each)")

        let recipients = (0..<8).map { _ in SigningKey().publicKey }
        let scoreboard = Scoreboard(devices: devices.count)
        let fleet = DeviceFleet(devices: devices, settings: .init(
            network: network.network, brokerPort: network.brokerPort, fee: network.genesis.minimumFee.baseUnits,
            batchTransfers: settings.batch, transfersPerSecond: perDevice, recipients: recipients, bridges: network.bridgeAccounts),
            scoreboard: scoreboard)

        // The agents' own log lines go to a file: the terminal is the view's.
        let logFD = open("\(settings.directory)/devices.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        if logFD >= 0 { AgentLog.destination = logFD }
        defer { AgentLog.destination = STDERR_FILENO; if logFD >= 0 { close(logFD) } }

        for (index, (key, home, password)) in realAgentKeys.enumerated() {
            try writeAgentConfig(home: home, key: key, password: password, network: network, perDevice: perDevice, recipient: recipients[index % 8], sensors: true)
            let component = Component(name: "agent-\(index + 1)", kind: .agent, executable: tools.agent,
                                      arguments: ["run", "-c", "\(home)/agent.toml"], logFile: "\(home)/agent.log")
            realAgents.append(RealAgent(component: component, key: key, home: home))
        }

        do {
            try await fleet.start()
            for agent in realAgents { try agent.component.start() }
            printer.note("devnet: \(devices.count) simulated devices started\(realAgents.isEmpty ? "" : " and \(realAgents.count) kognita-agent processes"); load for \(settings.duration) s"
                         + (printer.isTerminal ? " (Ctrl-C ends it early)" : ""))

            // The load.
            let loadStart = Monotonic.seconds()
            var monitor = Monitor(network: network, fleet: fleet, scoreboard: scoreboard, realAgents: realAgents, settings: settings)
            var killed = false
            var restartTask: Task<Void, any Error>?
            let plan = settings.chaos.map { interval in
                ChaosPlan(meanInterval: interval, validators: network.validators.count, bridges: network.bridges.count,
                          agents: realAgents.count, seed: settings.seed)
            }
            let chaos = plan.map { ChaosService(plan: $0, network: network, agents: realAgents.map(\.component)) }
            if let plan {
                printer.note("devnet: chaos: a SIGKILL every \(String(format: "%g", plan.meanInterval)) s +-50% (seed \(settings.seed)), at most "
                             + "\(plan.maxValidatorsDown) validator\(plan.maxValidatorsDown == 1 ? "" : "s") down at once")
            }
            let chaosTask = chaos.map { chaos in Task { await chaos.run(from: loadStart) } }
            // With a faulty validator the candidates stay: they are its replacement.
            let churn = CommitteeChurn(network: network, duration: Double(settings.duration), joinAt: Self.joinAt,
                                       leaveAt: settings.dropVotes.isEmpty ? Self.leaveAt : nil)
            let churnTask = network.candidates.isEmpty ? nil : Task { await churn.run(from: loadStart) }
            let probe = self.probe, fee = network.genesis.minimumFee
            let probeTask = settings.probe ? Task {
                await probe.run(network: network.network, brokerPort: network.brokerPort, fee: fee, recipient: recipients[0])
            } : nil
            // On a failure too: chaos must not start processes after the network is stopped.
            defer { chaosTask?.cancel(); probeTask?.cancel() }
            // One frame for every second of the load, on a fixed grid: a frame
            // that comes late does not push the next one back, so no second of
            // the view goes missing.
            var second = 1
            while second <= settings.duration && interrupts.withLock({ $0 }) == 0 {
                let due = loadStart + Double(second)
                while Monotonic.seconds() < due && interrupts.withLock({ $0 }) == 0 {
                    try await Task.sleep(for: .milliseconds(Int(min(100, max(1, (due - Monotonic.seconds()) * 1000)))))
                }
                if interrupts.withLock({ $0 }) != 0 { break }
                if let killAt = settings.killAt, !killed, second >= killAt {
                    killed = true
                    restartTask = crashDrill(network: network, printer: &printer)
                }
                for line in chaos?.takeNotes() ?? [] { printer.note(line) }
                if let line = await monitor.checkpointNote() { printer.note(line) }
                let frame = await monitor.frame(phase: "load", elapsed: Double(second))
                report.finalPerSecondSeries.append(frame.finalPerSecond)
                report.producedPerSecondSeries.append(Int(frame.frame.producedPerSecond.rounded()))
                printer.show(frame.frame)
                second += 1
            }
            report.loadSeconds = Monotonic.seconds() - loadStart
            await churnTask?.value
            for line in churn.takeNotes() { printer.note(line) }
            report.problems += churn.problems
            probeTask?.cancel()
            await probeTask?.value
            if settings.probe {
                report.probeLatency = LatencySummary(probe.measuredMicroseconds).scaled(by: 0.001)
                report.problems += probe.problems
            }
            let atEnd = scoreboard.totals
            report.producedInLoad = atEnd.producedTransfers
            report.finalInLoad = atEnd.finalTransfers

            // The drain: no new transfers; everything spooled becomes final.
            fleet.drain()
            if let chaos {
                // Everything killed comes back before the drain is judged.
                if !(await chaos.settle(timeout: 180, interrupted: { self.interrupts.withLock { $0 } >= 2 })) {
                    report.problems.append("chaos: components still down 180 s after the load")
                }
                chaosTask?.cancel()
                await chaosTask?.value
                for line in chaos.takeNotes() { printer.note(line) }
                report.chaosKills = chaos.kills
                report.problems += chaos.problems
            }
            var drainedAgents: [Int] = []
            for (index, agent) in realAgents.enumerated() {
                agent.component.stop()
                drainedAgents.append(producedByRealAgent(agent))
                let home = agent.home
                try writeAgentConfig(home: home, key: agent.key, password: realAgentKeys[index].2, network: network, perDevice: 0,
                                     recipient: recipients[0], sensors: false)
                try agent.component.start()
            }
            try await restartTask?.value
            let drainStart = Monotonic.seconds()
            let drainLimit = 120.0
            while interrupts.withLock({ $0 }) < 2 && Monotonic.seconds() - drainStart < drainLimit {
                let realPending = realAgents.map(pendingOfRealAgent).reduce(0, +)
                if scoreboard.pendingBatches == 0 && realPending == 0 { break }
                try await Task.sleep(for: .milliseconds(100))
                if let frame = await monitor.frameIfDue(phase: "drain", elapsed: Monotonic.seconds() - loadStart) { printer.show(frame.frame) }
            }
            report.drainSeconds = Monotonic.seconds() - drainStart
            report.pendingAfterDrain = scoreboard.totals.pendingTransfers
            if let frame = await monitor.frameIfDue(phase: "drain", elapsed: Monotonic.seconds() - loadStart, force: true) { printer.show(frame.frame) }
            printer.release()

            // The checks that need the network up: identical ledgers, money.
            printer.note("devnet: checking the ledgers and the checkpoint chains")
            try await checkLedgers(network: network, into: &report)
            await checkCheckpoints(network: network, into: &report)

            // Stop the devices, then the network (cleanly: SIGTERM).
            fleet.stop()
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await fleet.wait() }
                group.addTask { try? await Task.sleep(for: .seconds(15)) }
                await group.next()
                group.cancelAll()
            }
            for agent in realAgents { agent.component.stop() }
            network.stopAll()

            let totals = scoreboard.totals
            report.produced = totals.producedTransfers
            report.finalBatches = totals.finalBatches
            report.rejections = totals.rejections
            report.setAside = totals.setAside
            report.latency = LatencySummary(scoreboard.measuredLatencies)
            try checkExactlyOnce(network: network, devices: devices, scoreboard: scoreboard, realAgents: realAgents,
                                 realProduced: drainedAgents, into: &report)
            for error in fleet.errors { report.problems.append(error) }
        } catch {
            fleet.stop()
            throw error
        }

        report.usage = network.validators.map(Self.usage) + network.candidates.map(Self.usage) + network.bridges.map(Self.usage) + [Self.usage(network.broker)]
            + realAgents.map { Self.usage($0.component) }
        report.usage.append(.init(name: "devices", kind: "devices", cpuSeconds: ProcStat.cpuSeconds() ?? 0,
                                  peakResidentBytes: ProcStat.peakResidentBytes() ?? 0, restarts: 0))
        if report.pendingAfterDrain > 0 {
            report.problems.append("\(report.pendingAfterDrain) transfers were still pending \(Int(report.drainSeconds)) s after the load stopped")
        }
        return report
    }

    // MARK: - Crash drill

    /// SIGKILLs the last validator and the first bridge, and starts them
    /// again a second later; the devices must not notice beyond latency.
    private func crashDrill(network: DevnetNetwork, printer: inout FramePrinter) -> Task<Void, any Error> {
        let node = network.validators.count - 1
        printer.note("devnet: crash drill: SIGKILL validator-\(node + 1) and bridge-1; both restart in 1 s")
        network.validators[node].stop(signal: SIGKILL)
        if !network.bridges.isEmpty { network.bridges[0].stop(signal: SIGKILL) }
        return Task {
            try await Task.sleep(for: .seconds(1))
            try network.validators[node].start()
            if !network.bridges.isEmpty { try network.bridges[0].start() }
            try await network.waitUntilReady(node, within: 90)
            if !network.bridges.isEmpty { try await network.waitUntilConnected(bridge: 0, within: 90) }
        }
    }

    // MARK: - Checks

    /// When the candidates bond and register, and when they unbond, as fractions of the load.
    static let joinAt = 0.2
    static let leaveAt = 0.6

    /// The checkpoint chain of every node: the same headers on all, each
    /// chain verified from genesis (every header signed by more than 2/3 of
    /// the weight of the committee its predecessor named); the report's list
    /// from validator-1's.
    private func checkCheckpoints(network: DevnetNetwork, into report: inout DevnetReport) async {
        let genesis = network.genesis
        guard let genesisCommittee = try? genesis.committee() else { return report.problems.append("the genesis committee is not valid") }
        var chains: [[SignedCheckpoint]] = []
        var responses: [UInt64: CheckpointResponse] = [:]
        for url in network.allNodeURLs {
            guard let api = try? NodeAPIClient(url: url) else { continue }
            var chain: [SignedCheckpoint] = []
            while let next = try? await api.signedCheckpoint(UInt64(chain.count)) { chain.append(next) }
            if chains.isEmpty {
                for epoch in chain.indices {
                    if let response = try? await api.checkpoint(UInt64(epoch)) { responses[UInt64(epoch)] = response }
                }
            }
            do throws(LedgerError) {
                _ = try CheckpointChain.verify(chain, genesisDigest: genesis.digest, genesisCommittee: genesisCommittee)
            } catch {
                report.problems.append("the checkpoint chain of \(url) does not verify from genesis: \(error)")
            }
            chains.append(chain)
        }
        let common = chains.map(\.count).min() ?? 0
        let reference = chains.first.map { Array($0.prefix(common)) } ?? []
        report.chainsIdentical = !chains.isEmpty && chains.allSatisfy { $0.prefix(common).map(\.header) == reference.map(\.header) }
        if !report.chainsIdentical { report.problems.append("the nodes hold different checkpoint chains") }
        report.chainLengths = chains.map(\.count)
        var committee = genesisCommittee.validators.map(\.id.hex)
        var epochEnd = genesis.startMillis + settings.epochSeconds * 1000
        for checkpoint in chains.first ?? [] {
            let header = checkpoint.header
            let seconds = responses[header.epoch]?.adoptedAtMillis.map { $0 > epochEnd ? Double($0 - epochEnd) / 1000 : 0 }
            var entry = DevnetReport.CheckpointEntry(epoch: header.epoch, digest: header.digest.hex, committee: committee,
                                                     signers: checkpoint.signatures.map(\.validator.hex), round: checkpoint.round, seconds: seconds)
            entry.nextCommittee = header.nextCommittee.map(\.id.hex)
            if let response = responses[header.epoch] {
                entry.ratings = response.ratings ?? []
                entry.rewards = response.rewards ?? []
                entry.feePool = response.feePool
                entry.burned = response.burned
            }
            report.checkpoints.append(entry)
            committee = header.nextCommittee.map(\.id.hex)
            epochEnd = header.timestamp + settings.epochSeconds * 1000
        }
        await checkGovernance(network: network, into: &report)
    }

    /// Names for the report, and the governance checks: each faulty
    /// validator voted out within three checkpoints and replaced by a
    /// candidate; validators paid at checkpoints; bridges paid from fees.
    private func checkGovernance(network: DevnetNetwork, into report: inout DevnetReport) async {
        report.names = network.names()
        if let api = network.allNodeURLs.first.flatMap({ try? NodeAPIClient(url: $0) }) {
            for account in network.bridgeAccounts {
                report.bridgeRewards.append((try? await api.account(account))?.balance ?? 0)
            }
        }
        guard report.checkpoints.count >= 2 else { return }
        if report.validatorRewards == 0 && settings.minimumFee > 0 {
            report.problems.append("no checkpoint paid the validators any reward")
        }
        if !network.bridgeAccounts.isEmpty && settings.minimumFee > 0 && report.bridgeRewards.reduce(0, +) == 0 {
            report.problems.append("no bridge was paid its share of the fees")
        }
        for index in settings.dropVotes.keys.sorted() {
            let id = network.genesis.validators[index].id.hex
            guard let out = report.checkpoints.firstIndex(where: { !$0.nextCommittee.contains(id) }) else {
                report.problems.append("validator-\(index + 1) drops votes but was never voted out")
                continue
            }
            if out >= 3 { report.problems.append("validator-\(index + 1) drops votes but was voted out only at checkpoint \(out), not within 3") }
            let seated = Set(report.checkpoints[out].nextCommittee).subtracting(report.checkpoints[out].committee)
            let replacedBy = seated.compactMap { report.names[$0] }.filter { $0.hasPrefix("candidate-") }
            if replacedBy.isEmpty && !network.candidates.isEmpty {
                report.problems.append("validator-\(index + 1) was voted out at checkpoint \(out) but no candidate took a seat then")
            }
            report.votedOut.append((name: "validator-\(index + 1)", checkpoint: out, replacedBy: replacedBy.sorted()))
        }
    }

    private func checkLedgers(network: DevnetNetwork, into report: inout DevnetReport) async throws {
        // Certificates reach every node within moments; wait for them to agree.
        let deadline = Monotonic.seconds() + 30
        var statuses: [NodeStatusResponse?] = []
        repeat {
            statuses = []
            for index in network.validators.indices { statuses.append(await network.nodeStatus(index, timeout: .seconds(5))) }
            for index in network.candidates.indices {
                statuses.append(try? await NodeAPIClient(url: network.candidateURL(index)).status(timeout: .seconds(5)))
            }
            let digests = statuses.map { $0?.ledger.digest ?? "" }
            if Set(digests).count == 1 && !digests[0].isEmpty { break }
            try await Task.sleep(for: .milliseconds(250))
        } while Monotonic.seconds() < deadline && interrupts.withLock({ $0 }) < 2
        report.digests = statuses.map { $0?.ledger.digest ?? "" }
        report.totalMoney = statuses.map { $0?.ledger.totalMoney ?? 0 }
        if !report.ledgersIdentical {
            report.problems.append("the nodes' ledgers differ (or a node did not answer): \(report.digests.map { $0.isEmpty ? "no answer" : String($0.prefix(16)) })")
        }
        if !report.moneyConserved {
            report.problems.append("money is not conserved: balances, stakes, fee pool and burned are \(report.totalMoney) on the nodes, the genesis supply is \(report.supply)")
        }
    }

    /// Compares, device by device, the transfers its rules produced with the
    /// transfers in its final batches in validator-1's ledger (read from its
    /// SQLite database once the node has stopped).
    private func checkExactlyOnce(network: DevnetNetwork, devices: [DeviceFleet.Device], scoreboard: Scoreboard,
                                  realAgents: [RealAgent], realProduced: [Int], into report: inout DevnetReport) throws {
        let path = "\(network.nodeHome(0))/data/ledger.sqlite"
        let store: LedgerStore
        do { store = try LedgerStore(path: path) } catch { throw DevnetError("cannot open \(path) for the exactly-once check: \(error)") }
        func finalTransfers(of account: AccountID) throws -> [Transfer] {
            var transfers: [Transfer] = []
            var seq: UInt64 = 1
            while true {
                let batches = try store.finalBatches(account: account, from: seq, limit: 1000)
                for final in batches { transfers += final.batch.batch.transfers }
                guard let last = batches.last else { break }
                seq = last.batch.batch.seq + 1
            }
            return transfers
        }
        var final = 0, lost = 0, duplicated = 0
        for device in devices {
            var counts: [Int: Int] = [:]
            for fingerprint in scoreboard.produced(by: device.index) { counts[fingerprint, default: 0] += 1 }
            for transfer in try finalTransfers(of: device.key.publicKey) {
                final += 1
                counts[transfer.hashValue, default: 0] -= 1
            }
            for (_, balance) in counts {
                if balance > 0 { lost += balance } else if balance < 0 { duplicated -= balance }
            }
        }
        var realAgentsProduced = 0
        for (index, agent) in realAgents.enumerated() {
            let transfers = try finalTransfers(of: agent.key.publicKey)
            final += transfers.count
            let distinct = Set(transfers).count
            duplicated += transfers.count - distinct
            // The status file counts only the last process's transfers (a
            // SIGKILL restarts the count); the meter audit covers them all.
            let audit = MeterAudit(transfers)
            let agentLost = max(realProduced[index] - distinct, audit.unpaidUnits > 0 ? 1 : 0, 0)
            lost += agentLost
            duplicated += audit.overpaidUnits > 0 ? 1 : 0
            if audit.unpaidUnits > 0 || audit.overpaidUnits > 0 {
                report.problems.append("\(agent.component.name): its meters counted \(audit.expectedUnits) units between their first and last "
                                       + "paid readings, and its final transfers pay \(audit.paidUnits)")
            }
            realAgentsProduced += max(realProduced[index], distinct + agentLost)
        }
        report.produced += realAgentsProduced
        report.final = final
        report.lost = lost
        report.duplicated = duplicated
        if lost > 0 { report.problems.append("\(lost) transfers produced by the devices are not final in the ledger") }
        if duplicated > 0 { report.problems.append("\(duplicated) transfers are final more than once") }
    }

    // MARK: - Real agents

    private func writeAgentConfig(home: String, key: SigningKey, password: String, network: DevnetNetwork, perDevice: Double,
                                  recipient: AccountID, sensors: Bool) throws {
        let meters = DeviceFleet.meters(forTransfersPerSecond: perDevice)
        var text = """
            # A real kognita-agent of the devnet (made by kognita devnet; Config/agent.toml documents every key).
            [agent]
            network = "\(network.network)"
            key = "file:\(home)/device.key"
            state_directory = "\(home)"
            fee = \(network.genesis.minimumFee.baseUnits)

            [broker]
            host = "127.0.0.1"
            port = \(network.brokerPort)
            username = "\(key.publicKey.hex)"
            password = "\(password)"

            [batch]
            max_transfers = \(settings.batch)
            max_bytes = 65536
            max_delay_ms = 2000

            """
        if sensors {
            for meter in 0..<meters {
                text += """

                    [[sensor]]
                    id = "meter-\(meter + 1)"
                    kind = "simulated"
                    rate = \(perDevice / Double(meters))
                    poll_ms = 50
                    # The meter keeps counting while the agent is down (a restart is no reset).
                    started_at_ms = \(meterStart)

                    [[rule]]
                    id = "pay-\(meter + 1)"
                    sensor = "meter-\(meter + 1)"
                    recipient = "\(recipient.hex)"
                    every = 1
                    price = 1
                    hourly_cap = 1000000000000

                    """
            }
        }
        try DevnetNetwork.write(text, to: "\(home)/agent.toml")
    }

    private func agentStatus(_ agent: RealAgent) -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: agent.statusFile),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }

    private func producedByRealAgent(_ agent: RealAgent) -> Int { (agentStatus(agent)["transfers_produced"] as? NSNumber)?.intValue ?? 0 }

    private func pendingOfRealAgent(_ agent: RealAgent) -> Int {
        let status = agentStatus(agent)
        guard let pending = (status["pending_batches"] as? NSNumber)?.intValue else { return 1 }
        return pending + ((status["open_transfers"] as? NSNumber)?.intValue ?? 0)
    }

    static func usage(_ component: Component) -> DevnetReport.Usage {
        .init(name: component.name, kind: component.kind.rawValue, cpuSeconds: component.cpuSeconds,
              peakResidentBytes: component.peakResidentBytes, restarts: component.restarts)
    }

}

/// Builds a frame of the live view once a second from the scoreboard and the processes.
struct Monitor {
    let network: DevnetNetwork
    let fleet: DeviceFleet
    let scoreboard: Scoreboard
    let realAgents: [DevnetRun.RealAgent]
    let settings: DevnetReport.Settings
    private var last = Monotonic.seconds()
    private var lastTotals = Scoreboard.Totals()
    private var lastCPU: [String: Double] = [:]

    init(network: DevnetNetwork, fleet: DeviceFleet, scoreboard: Scoreboard, realAgents: [DevnetRun.RealAgent], settings: DevnetReport.Settings) {
        self.network = network
        self.fleet = fleet
        self.scoreboard = scoreboard
        self.realAgents = realAgents
        self.settings = settings
    }

    /// The last checkpoint that had a note.
    private var notedCheckpoint: UInt64?
    /// Readable names of node ids (hex).
    private lazy var names: [String: String] = network.names()

    /// One line for each new checkpoint: the ratings it gives, what it paid,
    /// who sits next (the live view of self-governance).
    mutating func checkpointNote() async -> String? {
        guard let api = try? NodeAPIClient(url: network.nodeURL(0)),
              let checkpoint = try? await api.checkpoint(nil, timeout: .milliseconds(700)), checkpoint.epoch != notedCheckpoint else { return nil }
        notedCheckpoint = checkpoint.epoch
        let names = self.names
        func name(_ id: String) -> String { names[id] ?? String(id.prefix(8)) }
        let ratings = (checkpoint.ratings ?? []).sorted { name($0.node) < name($1.node) }
            .map { "\(name($0.node)) \($0.rating)\($0.slashed ? " SLASHED" : "")" }.joined(separator: ", ")
        let paid = (checkpoint.rewards ?? []).reduce(UInt64(0)) { $0 + $1.amount }
        let next = checkpoint.nextCommittee.map { name($0.id) }.sorted().joined(separator: " ")
        return "devnet: checkpoint \(checkpoint.epoch): ratings \(ratings.isEmpty ? "-" : ratings); paid validators \(paid), burned so far \(checkpoint.burned ?? 0); next committee \(next)"
    }

    mutating func frameIfDue(phase: String, elapsed: Double, force: Bool = false) async -> (frame: DevnetFrame, finalPerSecond: Int)? {
        // A forced frame right after a regular one would divide by a sliver of time.
        guard Monotonic.seconds() - last >= (force ? 0.5 : 1) else { return nil }
        return await frame(phase: phase, elapsed: elapsed)
    }

    /// The frame of the time since the last one, labelled `elapsed`; rates are
    /// per second of the real interval (a frame can come late on a saturated machine).
    mutating func frame(phase: String, elapsed: Double) async -> (frame: DevnetFrame, finalPerSecond: Int) {
        let now = Monotonic.seconds()
        let interval = max(0.001, now - last)
        last = now
        let (totals, window) = scoreboard.takeWindow()
        defer { lastTotals = totals }
        let finalThisSecond = totals.finalTransfers - lastTotals.finalTransfers

        var rows: [DevnetFrame.Row] = []
        let network = self.network
        let statuses = await withTaskGroup(of: (Int, NodeStatusResponse?).self) { group in
            for index in network.validators.indices { group.addTask { (index, await network.nodeStatus(index, timeout: .milliseconds(700))) } }
            var result: [Int: NodeStatusResponse] = [:]
            for await (index, status) in group { result[index] = status }
            return result
        }
        let candidateStatuses = await withTaskGroup(of: (Int, NodeStatusResponse?).self) { group in
            for index in network.candidates.indices {
                group.addTask { (index, try? await NodeAPIClient(url: network.candidateURL(index)).status(timeout: .milliseconds(700))) }
            }
            var result: [Int: NodeStatusResponse] = [:]
            for await (index, status) in group { result[index] = status }
            return result
        }
        let bridgeMetrics = await withTaskGroup(of: (Int, DevnetNetwork.BridgeMetrics?).self) { group in
            for index in network.bridges.indices { group.addTask { (index, await network.bridgeMetrics(index, timeout: .milliseconds(700))) } }
            var result: [Int: DevnetNetwork.BridgeMetrics] = [:]
            for await (index, metrics) in group { result[index] = metrics }
            return result
        }
        func cpu(_ name: String, _ seconds: Double) -> Double {
            defer { lastCPU[name] = seconds }
            return max(0, (seconds - (lastCPU[name] ?? seconds)) / interval * 100)
        }
        for (index, node) in network.validators.enumerated() {
            let status = statuses[index]
            let state = !node.isRunning ? "down" : status == nil ? "starting" : status!.ready ? "ready" : "catching up"
            let detail = status.map { "peers \($0.validatorsConnected)/\(network.validators.count - 1)  final \(grouped($0.counters.transfersFinal)) tx" } ?? ""
            rows.append(.init(name: node.name, state: state, cpuPercent: cpu(node.name, node.cpuSeconds), residentBytes: node.residentBytes, detail: detail))
        }
        for (index, candidate) in network.candidates.enumerated() {
            let status = candidateStatuses[index]
            let state = !candidate.isRunning ? "down" : status == nil ? "starting" : status!.role
            let detail = status.map { "epoch \($0.epoch)  final \(grouped($0.counters.transfersFinal)) tx" } ?? ""
            rows.append(.init(name: candidate.name, state: state, cpuPercent: cpu(candidate.name, candidate.cpuSeconds), residentBytes: candidate.residentBytes, detail: detail))
        }
        for (index, bridge) in network.bridges.enumerated() {
            let metrics = bridgeMetrics[index]
            let state = !bridge.isRunning ? "down" : metrics == nil ? "starting" : "up"
            let detail = metrics.map { "nodes \($0.nodesConnected)/\(network.validators.count)  in flight \(grouped($0.inFlight))" } ?? ""
            rows.append(.init(name: bridge.name, state: state, cpuPercent: cpu(bridge.name, bridge.cpuSeconds), residentBytes: bridge.residentBytes, detail: detail))
        }
        let broker = network.broker
        rows.append(.init(name: "broker", state: broker.isRunning ? "up" : "down", cpuPercent: cpu("broker", broker.cpuSeconds),
                          residentBytes: broker.residentBytes, detail: "mosquitto :\(network.brokerPort)"))
        rows.append(.init(name: "devices", state: "\(totals.connectedDevices)/\(settings.devices)", cpuPercent: cpu("devices", ProcStat.cpuSeconds() ?? 0),
                          residentBytes: ProcStat.residentBytes() ?? 0, detail: "in this process (with the view)"))
        for agent in realAgents {
            rows.append(.init(name: agent.component.name, state: agent.component.isRunning ? "running" : "down",
                              cpuPercent: cpu(agent.component.name, agent.component.cpuSeconds), residentBytes: agent.component.residentBytes,
                              detail: "kognita-agent process"))
        }

        let frame = DevnetFrame(
            phase: phase, elapsed: elapsed, duration: settings.duration, validators: settings.validators, bridges: settings.bridges,
            devices: settings.devices, producedPerSecond: Double(totals.madeTransfers - lastTotals.madeTransfers) / interval,
            finalPerSecond: Double(finalThisSecond) / interval, totalFinal: totals.finalTransfers,
            latency: LatencySummary(window), pendingTransfers: totals.pendingTransfers, pendingBatches: totals.pendingBatches,
            connectedDevices: totals.connectedDevices, rejections: totals.rejections, rows: rows,
            epoch: statuses[0].map { status in
                let endsIn = Double(status.epochState?.endsInMillis ?? 0) / 1000
                return (status.epoch, status.committee.count, endsIn, Int(status.epoch))
            })
        // Per second of this frame's interval (a frame can come late when the machine is saturated).
        return (frame, Int((Double(finalThisSecond) / interval).rounded()))
    }
}

import ArgumentParser
import Foundation
import KognitaCore
import KognitaLedger
import KognitaNode
import KognitaSystem

/// `kognita load`: a load run against a running network, straight to the
/// nodes in the client role (no MQTT): many accounts, each submitting chained
/// batches as fast as they become final.
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Drive a running network with many accounts submitting batches; report final transfers per second and latency.",
        discussion: """
            Funds --accounts fresh accounts from the faucet (through --faucet), then each account submits \
            batches of --batch transfers to the validators in turn (client connections, one per validator), \
            one batch in flight per account, for --duration seconds. Prints final transfers per second and \
            submit-to-final percentiles; --report writes them as JSON.
            """)

    @Option(help: ArgumentHelp("The network's genesis.toml.", valueName: "path"))
    var genesis: String
    @Option(help: ArgumentHelp("The HTTP API of the node that serves the faucet.", valueName: "url"))
    var faucet = "http://127.0.0.1:8401"
    @Option(help: "Accounts submitting at once.")
    var accounts = 1000
    @Option(help: "Transfers per batch (1 to 1024).")
    var batch = 64
    @Option(help: "Seconds of load after funding.")
    var duration = 30
    @Option(help: ArgumentHelp("Offered load in transfers per second (default: as fast as batches become final).", valueName: "tx/s"))
    var rate: Int?
    @Option(help: ArgumentHelp("Write the figures as JSON here.", valueName: "file"))
    var report: String?

    func run() throws {
        guard (1...1024).contains(batch) else { throw CLIError("--batch must be from 1 to 1024") }
        guard (1...100_000).contains(accounts) else { throw CLIError("--accounts must be from 1 to 100000") }
        guard duration >= 1 else { throw CLIError("--duration must be at least 1 second") }
        let genesis = try Node.loadGenesis(self.genesis)
        let faucetClient: NodeAPIClient
        do throws(NodeURLError) { faucetClient = try NodeAPIClient(url: faucet) } catch { throw CLIError(error.description) }
        if let rate, rate < 1 { throw CLIError("--rate must be at least 1 transfer per second") }
        let settings = (accounts: accounts, batch: batch, duration: duration, rate: rate)
        let result = try blocking { try await LoadRun(genesis: genesis, faucet: faucetClient, accounts: settings.accounts,
                                                      batchSize: settings.batch, duration: settings.duration, rate: settings.rate).run() }
        print(result.summary)
        if let report {
            do throws(FileError) { try FileIO.writeAtomically(Array(result.json.utf8), to: report, mode: 0o644, replace: true) } catch {
                throw CLIError("cannot write the report: \(error.message)")
            }
        }
    }
}

/// One load run; see ``LoadCommand``.
struct LoadRun: Sendable {
    let genesis: Genesis
    let faucet: NodeAPIClient
    let accounts: Int
    let batchSize: Int
    let duration: Int
    /// Offered transfers per second; nil: closed loop (each account submits as soon as its last batch is final).
    let rate: Int?

    struct Result: Sendable {
        var finalTransfers = 0
        var finalBatches = 0
        var rejected: [String: Int] = [:]
        var seconds = 0.0
        var offered: Int?
        /// Batches issued so far (the open-loop schedule's position).
        var issued = 0
        var latencies: [Duration] = []

        var transfersPerSecond: Double { seconds > 0 ? Double(finalTransfers) / seconds : 0 }
        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            let sorted = latencies.sorted()
            let d = sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
            return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        }
        var summary: String {
            String(format: "%@%d final transfers in %d batches over %.1f s: %.0f transfers/s; submit-to-final p50 %.1f ms, p99 %.1f ms, max %.1f ms; rejected %@",
                   offered.map { "offered \($0) transfers/s: " } ?? "closed loop: ", finalTransfers, finalBatches, seconds, transfersPerSecond, percentile(0.5), percentile(0.99), percentile(1.0),
                   rejected.isEmpty ? "none" : rejected.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        var json: String {
            JSONText.object([
                ("offered_transfers_per_second", offered.map { "\($0)" } ?? "null"),
                ("final_transfers", "\(finalTransfers)"), ("final_batches", "\(finalBatches)"),
                ("seconds", String(format: "%.3f", seconds)), ("transfers_per_second", String(format: "%.1f", transfersPerSecond)),
                ("p50_ms", String(format: "%.2f", percentile(0.5))), ("p99_ms", String(format: "%.2f", percentile(0.99))),
                ("max_ms", String(format: "%.2f", percentile(1.0))),
                ("rejected", JSONText.object(rejected.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") })),
            ]) + "\n"
        }
    }

    func run() async throws -> Result {
        let clientKey = SigningKey()
        var clients: [NodeClient] = []
        for validator in genesis.validators {
            guard let address = PeerAddress(validator.address) else { continue }
            clients.append(try await NodeClient.connect(to: address, node: validator.id, identity: clientKey, genesis: genesis))
        }
        guard !clients.isEmpty else { throw CLIError("no validator of the genesis could be reached") }
        defer { Task { [clients] in for client in clients { await client.close() } } }

        // Fund: the faucet pays a treasury, which pays every account in batches of up to 1024.
        let keys = (0..<accounts).map { _ in SigningKey() }
        let treasury = SigningKey()
        let perAccount: UInt64 = 1_000_000_000
        let funded = try await faucet.faucet(treasury.publicKey, amount: perAccount * UInt64(accounts) + 1)
        guard funded.status == "final" else { throw CLIError("the faucet's payment is \(funded.status): \(funded.error ?? "") \(funded.detail ?? "")") }
        var head = try await clients[0].head(of: treasury.publicKey)
        for start in stride(from: 0, to: accounts, by: 1024) {
            let transfers = keys[start..<min(start + 1024, accounts)].map { Transfer(to: $0.publicKey, amount: Amount(perAccount)) }
            let batch = try SignedBatch.sign(Batch(network: genesis.network, seq: head.nextSeq, prev: head.lastFinal,
                                                   created: WallClock.unixMillis(), fee: genesis.minimumFee, transfers: transfers), with: treasury)
            guard let ack = await Self.decided(clients[0].submit(batch.envelope)), ack.status == .final else {
                throw CLIError("funding the accounts failed")
            }
            head = AccountHead(nextSeq: head.nextSeq + 1, lastFinal: batch.id, balance: head.balance)
        }
        let fee = genesis.minimumFee
        let network = genesis.network
        let recipients = keys.map(\.publicKey)
        let batchSize = self.batchSize
        let totals = Protected(Result(offered: rate))
        let start = ContinuousClock.now
        // Open loop: batch number k may leave at start + k * interval, whoever sends it.
        let interval: Duration? = rate.map { .seconds(Double(batchSize) / Double($0)) }
        let end = start + .seconds(duration)
        await withTaskGroup(of: Void.self) { group in
            for (index, key) in keys.enumerated() {
                let client = clients[index % clients.count]
                group.addTask {
                    var seq: UInt64 = 1, prev = BatchID.zero
                    var created = WallClock.unixMillis()
                    while ContinuousClock.now < end {
                        let transfers = (0..<batchSize).map { i in
                            Transfer(to: recipients[(index + 1 + i) % recipients.count], amount: 1)
                        }
                        created = max(created + 1, WallClock.unixMillis())
                        guard let batch = try? SignedBatch.sign(Batch(network: network, seq: seq, prev: prev, created: created, fee: fee,
                                                                      transfers: transfers), with: key) else { return }
                        // Open loop: latency counts from when the batch was due, so a
                        // backlog in this generator shows up instead of hiding (coordinated omission).
                        var due: ContinuousClock.Instant?
                        if let interval {
                            let slot = totals.withLock { result -> Int in
                                defer { result.issued += 1 }
                                return result.issued
                            }
                            let scheduled = start + interval * slot
                            if scheduled >= end { return }
                            try? await Task.sleep(until: scheduled, clock: .continuous)
                            due = scheduled
                        }
                        let submitted = due ?? ContinuousClock.now
                        let ack = await Self.decided(client.submit(batch.envelope))
                        let latency = submitted.duration(to: .now)
                        guard let ack, ack.status == .final else {
                            let reason = ack?.reason?.name ?? "no answer"
                            totals.withLock { $0.rejected[reason, default: 0] += 1 }
                            if ack?.reason == .overloaded { continue }
                            return
                        }
                        totals.withLock {
                            $0.finalTransfers += batch.batch.transfers.count
                            $0.finalBatches += 1
                            $0.latencies.append(latency)
                        }
                        seq += 1
                        prev = batch.id
                    }
                }
            }
        }
        var result = totals.withLock { $0 }
        result.seconds = Double(start.duration(to: .now).components.seconds) + Double(start.duration(to: .now).components.attoseconds) / 1e18
        return result
    }

    /// The first `final` or `rejected` ack of a submission, or nil when the connection closed first.
    static func decided(_ acks: AsyncStream<Ack>) async -> Ack? {
        await firstAck(of: acks, within: .seconds(600)) { $0.status != .accepted }
    }
}

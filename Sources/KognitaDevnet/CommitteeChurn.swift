import Foundation
import KognitaCore
import KognitaLedger
import KognitaNode
import KognitaSystem

/// Moves the committee under load (`kognita devnet --candidates K`): part-way
/// through, an account for each candidate node is funded, bonds as much as a
/// genesis validator and registers the node in one version-2 batch; later
/// each unbonds everything. The checkpoints after each step seat and unseat
/// the candidates (docs/EPOCHS.md, section 6).
final class CommitteeChurn: Sendable {
    let network: DevnetNetwork
    let duration: Double
    let joinAt: Double
    /// Nil: the candidates stay to the end.
    let leaveAt: Double?
    /// What a candidate bonds: a genesis validator's bond, so all weigh the same.
    let bond: UInt64
    private let state = Protected((notes: [String](), problems: [String]()))

    init(network: DevnetNetwork, duration: Double, joinAt: Double, leaveAt: Double?) {
        self.network = network
        self.duration = duration
        self.joinAt = joinAt
        self.leaveAt = leaveAt
        bond = network.genesis.validators.first?.bond ?? 1_000_000
    }

    var problems: [String] { state.withLock { $0.problems } }
    func takeNotes() -> [String] { state.withLock { state in defer { state.notes = [] }; return state.notes } }

    func run(from start: Double) async {
        let accounts = network.candidates.indices.map { _ in SigningKey() }
        do {
            try await sleep(until: start + duration * joinAt)
            try await network.fund(accounts.map(\.publicKey), amount: bond + 1_000_000)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, account) in accounts.enumerated() {
                    group.addTask { try await self.join(index, account) }
                }
                try await group.waitForAll()
            }
            note("devnet: \(accounts.count) candidates bonded \(grouped(Int(bond))) each and registered; they sit from the next checkpoint")
            guard let leaveAt else { return }
            try await sleep(until: start + duration * leaveAt)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for account in accounts {
                    group.addTask { try await self.submit([.unbond(Amount(self.bond))], account, "unbond") }
                }
                try await group.waitForAll()
            }
            note("devnet: the \(accounts.count) candidates unbonded; they leave at the next checkpoint")
        } catch is CancellationError {
        } catch {
            state.withLock { $0.problems.append("committee churn: \(error)") }
        }
    }

    private func join(_ index: Int, _ account: SigningKey) async throws {
        let identity: SigningKey
        do throws(KeyFileError) { identity = try KeyFile.load("\(network.candidateHome(index))/identity.key") } catch {
            throw DevnetError("cannot load candidate-\(index + 1)'s identity: \(error)")
        }
        let registration = Registration.sign(network: network.network, account: account.publicKey,
                                             addresses: [network.candidatePeerAddress(index)], nodeKey: identity)
        try await submit([.bond(Amount(bond)), .register(registration)], account, "bond and register")
    }

    private func submit(_ operations: [KognitaCore.Operation], _ account: SigningKey, _ what: String) async throws {
        let api = try NodeAPIClient(url: network.nodeURL(0))
        let fee = network.genesis.minimumFee
        // A batch that lands on a sealed epoch waits for the checkpoint; a rejection is final.
        let ack = try await api.submitOperations(operations, account: account, fee: fee, timeout: .seconds(90))
        guard ack.status == "final" else {
            throw DevnetError("\(what) for \(account.publicKey.hex.prefix(16)) was \(ack.status): \(ack.error ?? "") \(ack.detail ?? "")")
        }
    }

    private func sleep(until time: Double) async throws {
        let wait = time - Monotonic.seconds()
        if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
    }

    private func note(_ line: String) { state.withLock { $0.notes.append(line) } }
}

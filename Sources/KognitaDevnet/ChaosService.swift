import KognitaSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Carries out a ``ChaosPlan`` on a running devnet: SIGKILLs the component the
/// plan names, starts it again when the plan says, and tells the plan when a
/// restarted validator is ready. Runs on a thread of its own (a kill waits for
/// the process to be reaped).
final class ChaosService: Sendable {
    private let plan: Mutex<ChaosPlan>
    private let network: DevnetNetwork
    private let agents: [Component]
    private let executor = BlockingExecutor(name: "chaos", threads: 1)
    /// Lines for the view's log (what was killed and restarted), taken by the run.
    private let notes = Mutex<[String]>([])
    /// What went wrong carrying out the plan (a restart that failed).
    private let failures = Mutex<[String]>([])

    init(plan: ChaosPlan, network: DevnetNetwork, agents: [Component]) {
        self.plan = Mutex(plan)
        self.network = network
        self.agents = agents
    }

    deinit { executor.shutdown() }

    /// Kills and restarts per the plan until cancelled; `start` is the load's start (Monotonic seconds).
    func run(from start: Double) async {
        await withTaskExecutorPreference(executor) {
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled {
                    let now = Monotonic.seconds() - start
                    let actions = plan.withLock { $0.advance(to: now) }
                    for action in actions {
                        switch action {
                        case .kill(let target):
                            component(target)?.stop(signal: SIGKILL)
                            note("chaos: SIGKILL \(target) at \(Int(now)) s")
                        case .restart(let target):
                            group.addTask { await self.restart(target) }
                        }
                    }
                    let wait = max(0.01, min(0.25, plan.withLock { $0.nextDue } - (Monotonic.seconds() - start)))
                    try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
                }
            }
        }
    }

    /// No more kills; waits (up to `timeout` seconds) until everything killed
    /// is up again and every restarted validator is ready. Returns whether it is.
    func settle(timeout: Double, interrupted: () -> Bool = { false }) async -> Bool {
        plan.withLock { $0.stop() }
        let deadline = Monotonic.seconds() + timeout
        while Monotonic.seconds() < deadline && !interrupted() {
            if plan.withLock({ $0.down.isEmpty }) { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Kills so far by kind, and in total.
    var kills: [String: Int] { plan.withLock { $0.kills } }

    /// Notes since the last call, oldest first.
    func takeNotes() -> [String] { notes.withLock { notes in defer { notes.removeAll() }; return notes } }

    var problems: [String] { failures.withLock { $0 } }

    private func restart(_ target: ChaosPlan.Target) async {
        // Back (or given up on) whatever happens: the plan never kills it meanwhile.
        defer { plan.withLock { $0.ready(target) } }
        guard let component = component(target) else { return }
        do {
            try component.start()
            switch target {
            case .validator(let index):
                try await network.waitUntilReady(index, within: 120)
                note("chaos: \(target) restarted and caught up")
            case .broker:
                try await network.waitUntilBrokerAccepts(within: 30)
                note("chaos: broker restarted")
            case .bridge, .agent:
                note("chaos: \(target) restarted")
            }
        } catch is CancellationError {
            // The run ended while it came back; the run's own checks judge it.
        } catch {
            failures.withLock { $0.append("chaos: \(target) did not come back: \(error)") }
        }
    }

    private func component(_ target: ChaosPlan.Target) -> Component? {
        switch target {
        case .validator(let index): network.validators.indices.contains(index) ? network.validators[index] : nil
        case .bridge(let index): network.bridges.indices.contains(index) ? network.bridges[index] : nil
        case .broker: network.broker
        case .agent(let index): agents.indices.contains(index) ? agents[index] : nil
        }
    }

    private func note(_ line: String) { notes.withLock { $0.append(line) } }
}

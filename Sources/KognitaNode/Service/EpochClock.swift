import KognitaSystem
import ServiceLifecycle

/// Gives the engine the wall clock forty times a second (a seal comes at
/// most 25 ms after the epoch's end by this node's clock): the epoch ends by
/// the clocks (docs/EPOCHS.md, section 2), and the agreement resends and
/// the leader's wait for reports run on it. Everything else in the
/// agreement runs on messages and the timers it sets.
struct EpochClock: Service {
    let engine: NodeEngine
    static let interval = Duration.milliseconds(25)

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: Self.interval)
                    await engine.epochTick()
                }
            }
        } catch is CancellationError {
            // Shutting down.
        }
    }
}

import KognitaCore
import KognitaLedger
import Logging
import ServiceLifecycle

/// Keeps the node's ledger complete. At start it waits briefly for its peers,
/// fetches every certificate it missed while it was down, and only then lets
/// the node vote and take submissions. After that, every few seconds, it
/// compares heads with one peer (anti-entropy), which repairs anything a
/// dropped connection or a lost vote left out.
struct CatchUpService: Service {
    let engine: NodeEngine
    let synchronizer: Synchronizer
    /// Other validators this node expects to reach.
    let expectedPeers: Set<PublicKey>
    let logger: Logger
    /// How long the start waits for peers before it goes on with those it has.
    static let startupWait = Duration.seconds(3)
    static let interval = Duration.seconds(5)

    func run() async throws {
        do {
            try await catchUpThenRepair()
        } catch is CancellationError {
            // Shutting down.
        }
    }

    private func catchUpThenRepair() async throws {
        try await cancelWhenGracefulShutdown {
            let deadline = ContinuousClock.now + Self.startupWait
            while ContinuousClock.now < deadline {
                let connected = Set(await engine.connectedPeers().map(\.identity))
                if expectedPeers.isSubset(of: connected) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            var applied = 0
            // The header chain first: certificates of later epochs verify only against their committees.
            for link in await engine.connectedPeers() { await engine.followChain(with: link) }
            for link in await engine.connectedPeers() { applied += await synchronizer.syncAll(with: link) }
            if applied > 0 { logger.info("caught up: applied \(applied) final batches fetched from peers") }
            await engine.becomeReady()
            while !Task.isCancelled {
                try await Task.sleep(for: Self.interval)
                await engine.expireWaiters()
                if let link = await engine.connectedPeers().randomElement() {
                    await engine.followChain(with: link)
                    let repaired = await synchronizer.syncAll(with: link)
                    if repaired > 0 { logger.info("anti-entropy: applied \(repaired) final batches from \(link)") }
                }
            }
        }
    }
}

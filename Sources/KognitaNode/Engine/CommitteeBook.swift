import KognitaCore
import KognitaLedger
import KognitaSystem

/// Every committee this node knows, by epoch: genesis's, and the next
/// committee each adopted checkpoint names. A vote or certificate is checked
/// against the committee of its own epoch, so a certificate stays valid
/// forever (docs/EPOCHS.md, section 8). Shared by the engine and the
/// connection handlers, which verify off the engine's actor.
public final class CommitteeBook: Sendable {
    private let state: Protected<[UInt64: Committee]>

    public init(genesis: Committee) {
        state = Protected([genesis.epoch: genesis])
    }

    /// The committee of `epoch`, when this node has adopted the checkpoint that names it.
    public func committee(for epoch: UInt64) -> Committee? { state.withLock { $0[epoch] } }

    /// The committee of the latest epoch known.
    public var latest: Committee { state.withLock { $0.max { $0.key < $1.key }!.value } }

    /// Whether `identity` sits on the latest committee or the one before (a
    /// validator voted out still finishes its old epoch's business).
    public func isRecentValidator(_ identity: PublicKey) -> Bool {
        state.withLock { book in
            let epochs = book.keys.sorted().suffix(2)
            return epochs.contains { book[$0]!.contains(identity) }
        }
    }

    func add(_ committee: Committee) { state.withLock { $0[committee.epoch] = committee } }
}

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

    /// Whether `identity` sat on any committee this node knows: such a
    /// node may claim the validator role in a handshake (a validator voted
    /// out keeps its role until it restarts; what it may do is decided per
    /// message, by the committee of the message's epoch).
    public func wasValidator(_ identity: PublicKey) -> Bool {
        state.withLock { book in book.values.contains { $0.contains(identity) } }
    }

    func add(_ committee: Committee) { state.withLock { $0[committee.epoch] = committee } }
}

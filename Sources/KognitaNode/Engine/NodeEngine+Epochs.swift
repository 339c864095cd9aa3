import KognitaCore
import KognitaLedger
import KognitaSystem

/// The engine's side of an epoch's end: the clock and the agreement's
/// messages go to the core (``NodeCore``, NodeCore+Epochs.swift, decides);
/// the fetches it asks for run here.
extension NodeEngine {
    /// What `/v1/status` and the CLI show of the epoch.
    public struct EpochStatus: Sendable {
        public var epoch: UInt64
        public var endMillis: UInt64
        public var sealed: Bool
        public var round: UInt32
        public var reports: Int
        public var lastCheckpoint: SignedCheckpoint?
    }

    public func epochStatus() -> EpochStatus {
        EpochStatus(epoch: core.committee.epoch, endMillis: core.session.endMillis, sealed: core.session.sealed,
                    round: core.session.agreement.round, reports: core.session.reports.count, lastCheckpoint: core.checkpoints.last)
    }

    /// The clock: seals when the epoch is over, resends, lets a waiting leader build.
    func epochTick() { handle(.tick) }

    func received(sealReport report: SealReport) { handle(.sealReport(report)) }
    func received(proposal: CheckpointProposal, reports: [SealReport]) { handle(.proposal(proposal, reports: reports)) }
    func received(checkpointVote vote: CheckpointVote) { handle(.checkpointVote(vote)) }

    /// A decided checkpoint from a peer (decoded, bodies matched against its header).
    func received(checkpoint: LedgerStore.StoredCheckpoint, from link: PeerLink?) {
        handle(.checkpoint(checkpoint, from: link?.identity))
    }

    /// Fetches what a cut still misses, each account from the validator that
    /// reported its head (or any peer), then tells the core.
    func fetchForCut(_ fetches: [NodeCore.CutFetch], cut: EpochCut, epoch: UInt64) {
        let synchronizer = Synchronizer(engine: self, committees: committees, logger: logger)
        var sources: [(NodeCore.CutFetch, PeerLink)] = []
        for fetch in fetches {
            if let link = fetch.peer.flatMap({ nodeLinks[$0] }) ?? nodeLinks.values.randomElement() { sources.append((fetch, link)) }
        }
        Task {
            await withTaskGroup(of: Void.self) { group in
                for (fetch, link) in sources {
                    group.addTask { await synchronizer.fetch(account: fetch.account, from: fetch.from, upTo: fetch.upTo, from: link) }
                }
            }
            // Whatever could be fetched is applied: the core answers now, reached or not.
            await self.handle(.cutFetched(cut, epoch: epoch))
        }
    }

    // MARK: Following the chain

    /// Fetches the checkpoints from this node's epoch on from `link` and adopts
    /// each in turn (each verified against the committee its predecessor named).
    public func followChain(with link: PeerLink) async {
        guard !fetchingCheckpoints else { return }
        fetchingCheckpoints = true
        defer { fetchingCheckpoints = false }
        do {
            while true {
                let from = core.committee.epoch
                let reply = try await link.request(timeout: .seconds(10)) { .checkpointsRequest(request: $0, from: from) }
                guard case .checkpoints(_, let entries) = reply else {
                    throw PeerProtocolError("the peer answered a checkpoints request with something else")
                }
                for entry in entries { received(checkpoint: entry, from: nil) }
                if entries.isEmpty || core.committee.epoch == from { break }
            }
        } catch {
            logger.warning("fetching checkpoints from \(link) failed: \(error)")
        }
    }
}

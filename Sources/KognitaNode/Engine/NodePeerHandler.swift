import KognitaCore
import KognitaLedger
import Logging

/// What a node does with each message from a link. The expensive, stateless
/// checks (batch signatures, vote signatures and Merkle trees) run here, on
/// the connection's own task, so they spread over the cores; only checked
/// values reach the ``NodeEngine`` actor. Catch-up reads come straight from
/// the store.
///
/// A peer that breaks the protocol (a message its role may not send, a vote
/// that does not verify) is disconnected and counted; everyone else goes on.
struct NodePeerHandler: PeerLinkHandler {
    let engine: NodeEngine
    let store: LedgerStore
    let committees: CommitteeBook
    let metrics: NodeMetrics
    let logger: Logger

    func linkOpened(_ link: PeerLink) async {
        logger.info("connected: \(link)")
        await engine.linkOpened(link)
    }

    func linkClosed(_ link: PeerLink, error: (any Error)?) async {
        if let error, !(error is PeerLinkClosed), !(error is CancellationError) {
            metrics.badFrames.increment()
            logger.warning("closed \(link): \(error)")
        } else {
            logger.info("disconnected: \(link)")
        }
        await engine.linkClosed(link)
    }

    func received(_ message: PeerMessage, from link: PeerLink) async {
        switch message {
        case let .submit(request, envelope):
            let batch: SignedBatch
            do throws(ProtocolError) { batch = try SignedBatch.verify(envelope) } catch {
                metrics.rejected(error.reason)
                return reply(link, request, Ack(status: .rejected, reason: error.reason, detail: truncatedUTF8(error.description, maxBytes: 200)))
            }
            await engine.submit(batch) { ack in reply(link, request, ack) }

        case let .headQuery(request, account):
            let head = await engine.head(of: account)
            reply(link, request, Ack(seq: head.nextSeq, status: .head, head: head))

        case let .forward(envelope):
            guard link.role != .client else { return violation(link, "a client may not forward batches") }
            // A forwarded batch that fails its check is dropped: the
            // forwarder answered its client itself (it checked first).
            guard let batch = try? SignedBatch.verify(envelope) else { return }
            await engine.forwarded(batch, from: link)

        case let .vote(vote):
            // The committee changes with the epochs, so the link's role (set
            // at the handshake) does not say who may vote: the vote's epoch does.
            guard link.role != .client, vote.validator == link.identity else {
                return violation(link, "only a validator sends votes, and only its own")
            }
            guard let committee = committees.committee(for: vote.epoch) else {
                // The next epoch's vote, before this node adopted its checkpoint.
                return await engine.receivedFuture(vote)
            }
            do throws(LedgerError) {
                let verified = try vote.verify(for: committee)
                await engine.received(verified)
            } catch {
                metrics.badVotes.increment()
                violation(link, "a vote that does not verify: \(error)")
            }

        case let .refusal(batch, reason, detail, head):
            guard link.role != .client else { return violation(link, "a client may not refuse batches") }
            await engine.refused(batch, Rejection(reason, detail, head: head), by: link.identity)

        case let .headsRequest(request, after, limit):
            do {
                // SQLite reads block: on the readers' threads, not Swift's cooperative pool.
                let store = self.store
                let heads = try await withTaskExecutorPreference(NodeIO.readers) {
                    try store.heads(after: after, limit: Int(min(limit, PeerMessage.maxHeadsPage)))
                }
                link.send(.heads(request: request, entries: heads.map { .init(account: $0.account, nextSeq: $0.nextSeq) },
                                 complete: heads.count < Int(min(limit, PeerMessage.maxHeadsPage))))
            } catch {
                logger.error("reading heads for a peer failed: \(error)")
            }

        case let .batchesRequest(request, account, from, limit):
            do {
                let store = self.store
                let finals = try await withTaskExecutorPreference(NodeIO.readers) {
                    try store.finalBatches(account: account, from: from, limit: Int(min(limit, PeerMessage.maxBatchesPage)))
                }
                var entries: [PeerMessage.FinalEntry] = []
                var bytes = 0
                for final in finals {
                    bytes += final.batch.envelope.count + final.certificate.count
                    if !entries.isEmpty && bytes > PeerMessage.maxPageBytes { break }
                    entries.append(.init(envelope: final.batch.envelope, certificate: final.certificate))
                }
                link.send(.batches(request: request, entries: entries))
            } catch {
                logger.error("reading final batches for a peer failed: \(error)")
            }

        case let .sealReport(report):
            guard link.role != .client else { return violation(link, "a client may not send seal reports") }
            await engine.received(sealReport: report)

        case let .checkpointProposal(proposal, reports):
            guard link.role != .client else { return violation(link, "a client may not send checkpoint proposals") }
            await engine.received(proposal: proposal, reports: reports)

        case let .checkpointVote(vote):
            guard link.role != .client else { return violation(link, "a client may not send checkpoint votes") }
            await engine.received(checkpointVote: vote)

        case let .checkpoint(checkpoint):
            await engine.received(checkpoint: checkpoint, from: link)

        case let .checkpointsRequest(request, from):
            do {
                let store = self.store
                let entries = try await withTaskExecutorPreference(NodeIO.readers) {
                    try store.checkpointsForPeers(from: from, limit: PeerMessage.maxCheckpointsPage)
                }
                link.send(.checkpoints(request: request, entries: entries))
            } catch {
                logger.error("reading checkpoints for a peer failed: \(error)")
            }

        case let .progress(epoch):
            guard link.role != .client else { return violation(link, "a client may not announce progress") }
            await engine.progress(of: link.identity, epoch: epoch)
        case let .evidence(proof):
            // Anyone may report equivocation; a proof that does not verify is refused and counted, the link stays.
            _ = await engine.received(evidence: proof)

        case .reply, .heads, .batches, .checkpoints:
            break // replies nobody waits for any more
        }
    }

    private func reply(_ link: PeerLink, _ request: UInt64, _ ack: Ack) {
        do throws(ProtocolError) {
            link.send(.reply(request: request, ack: try ack.encoded()))
        } catch {
            logger.error("an ack did not encode (\(error)); this is a bug")
        }
    }

    private func violation(_ link: PeerLink, _ what: String) {
        metrics.badFrames.increment()
        logger.warning("closing \(link): \(what)")
        link.close()
    }
}

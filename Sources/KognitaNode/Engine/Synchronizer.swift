import KognitaCore
import KognitaLedger
import Logging

/// Catching up: compares account heads with a peer and fetches the final
/// batches (with their certificates) this node is missing. Everything a peer
/// sends is checked like anything else from outside: the batch's signature,
/// its place in the account's chain, and the certificate against the committee.
struct Synchronizer: Sendable {
    let engine: NodeEngine
    let committees: CommitteeBook
    let logger: Logger
    static let requestTimeout = Duration.seconds(10)

    /// Fetches everything `link` has final that this node has not; returns the batches applied.
    @discardableResult
    func syncAll(with link: PeerLink) async -> Int {
        var after: AccountID?
        var applied = 0
        do {
            while true {
                let reply = try await link.request(timeout: Self.requestTimeout) {
                    .headsRequest(request: $0, after: after, limit: PeerMessage.maxHeadsPage)
                }
                guard case .heads(_, let entries, let complete) = reply else {
                    throw PeerProtocolError("the peer answered a heads request with something else")
                }
                let mine = await engine.nextSeqs(entries.map(\.account))
                for (entry, ours) in zip(entries, mine) where entry.nextSeq > ours {
                    applied += await fetch(account: entry.account, from: ours, upTo: entry.nextSeq, from: link)
                }
                guard !complete, let last = entries.last else { break }
                after = last.account
            }
        } catch {
            logger.warning("catching up with \(link) stopped: \(error)")
        }
        return applied
    }

    /// Fetches the final batches of `account` from seq `from` (below `upTo`) from `link`.
    @discardableResult
    func fetch(account: AccountID, from: UInt64, upTo: UInt64, from link: PeerLink) async -> Int {
        var next = from
        do {
            while next < upTo {
                let start = next
                let reply = try await link.request(timeout: Self.requestTimeout) {
                    .batchesRequest(request: $0, account: account, from: start, limit: PeerMessage.maxBatchesPage)
                }
                guard case .batches(_, let entries) = reply else {
                    throw PeerProtocolError("the peer answered a batches request with something else")
                }
                if entries.isEmpty { break }
                for entry in entries {
                    let batch: SignedBatch
                    do throws(ProtocolError) { batch = try SignedBatch.verify(entry.envelope, expectedNetwork: committees.latest.network) } catch {
                        throw PeerProtocolError("the peer sent a final batch that does not verify: \(error)")
                    }
                    guard batch.signer == account, batch.batch.seq == next else {
                        throw PeerProtocolError("the peer sent seq \(batch.batch.seq) of \(batch.signer) when asked for seq \(next) of \(account)")
                    }
                    let certificate: VerifiedCertificate
                    do throws(LedgerError) {
                        let decoded = try Certificate(decoding: entry.certificate)
                        guard let committee = committees.committee(for: decoded.epoch) else {
                            // A later epoch than this node knows: it follows the chain first (anti-entropy fetches checkpoints).
                            throw LedgerError("it is of epoch \(decoded.epoch), whose checkpoint this node has not adopted yet")
                        }
                        certificate = try decoded.verify(for: committee)
                    } catch {
                        throw PeerProtocolError("the peer sent a certificate that does not verify: \(error)")
                    }
                    guard certificate.batch == BatchKey(batch) else {
                        throw PeerProtocolError("the peer sent a certificate for another batch")
                    }
                    await engine.caughtUp(batch, certificate)
                    next += 1
                }
            }
        } catch {
            logger.warning("fetching final batches of \(account) from \(link) stopped: \(error)")
        }
        return Int(next - from)
    }
}

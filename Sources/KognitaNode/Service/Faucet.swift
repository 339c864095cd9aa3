import KognitaCore
import KognitaLedger
import KognitaSystem
import Logging

/// Pays from the faucet account on test networks: a real batch signed with
/// the faucet's key, voted and certified like any other (no money is minted).
///
/// Requests that arrive together go in one batch. The faucet never signs two
/// different batches at one seq, across restarts too: the batch in flight is
/// kept in the ledger database before it leaves, and resubmitted after a crash
/// (two batches at one seq could split the validators' locks and freeze the
/// account for good).
public actor Faucet {
    let key: SigningKey
    let engine: NodeEngine
    let store: LedgerStore
    let network: NetworkID
    let minimumFee: Amount
    let logger: Logger
    private var queue: [(Transfer, CheckedContinuation<Ack, any Error>)] = []
    private var running = false
    static let inFlightKey = "faucet_batch"
    /// How long to wait for a faucet batch to become final before resending it.
    static let resendAfter = Duration.seconds(5)

    public init(key: SigningKey, engine: NodeEngine, store: LedgerStore, network: NetworkID, minimumFee: Amount, logger: Logger) {
        self.key = key
        self.engine = engine
        self.store = store
        self.network = network
        self.minimumFee = minimumFee
        self.logger = logger
    }

    /// The faucet's account.
    public nonisolated var account: AccountID { key.publicKey }

    /// Pays `amount` to `account`; returns the `final` ack of the batch that
    /// carried it, or throws the rejection.
    public func pay(_ amount: Amount, to account: AccountID) async throws -> Ack {
        try await withCheckedThrowingContinuation { continuation in
            queue.append((Transfer(to: account, amount: amount, sensor: "faucet"), continuation))
            if !running {
                running = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        defer { running = false }
        // First, a batch left in flight by a crash, if its seq is still open.
        if let envelope = try? store.metaValue(Self.inFlightKey), let batch = try? SignedBatch.verify(envelope) {
            if await engine.head(of: account).nextSeq == batch.batch.seq {
                logger.info("resubmitting the faucet batch left in flight at seq \(batch.batch.seq)")
                _ = await submitUntilDecided(batch)
            }
        }
        while !queue.isEmpty {
            let take = Array(queue.prefix(256))
            queue.removeFirst(take.count)
            let head = await engine.head(of: account)
            let outcome: Result<Ack, any Error>
            do {
                let batch = try SignedBatch.sign(
                    Batch(network: network, seq: head.nextSeq, prev: head.lastFinal, created: WallClock.unixMillis(),
                          fee: minimumFee, transfers: take.map(\.0)),
                    with: key)
                try store.setMetaValue(Self.inFlightKey, batch.envelope)
                let ack = await submitUntilDecided(batch)
                outcome = ack.status == .final ? .success(ack)
                    : .failure(FaucetError("the faucet's batch was rejected: \(ack.reason?.name ?? "?") \(ack.detail ?? "")"))
            } catch {
                outcome = .failure(error)
            }
            for (_, continuation) in take { continuation.resume(with: outcome) }
        }
    }

    /// Submits `batch` (again, every ``resendAfter``) until it is final or rejected.
    private func submitUntilDecided(_ batch: SignedBatch) async -> Ack {
        while true {
            let decided = await firstAck(of: await engine.submit(batch), within: Self.resendAfter) { $0.status != .accepted }
            if let decided, !(decided.status == .rejected && decided.reason == .overloaded) { return decided }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}

/// The faucet could not pay.
public struct FaucetError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

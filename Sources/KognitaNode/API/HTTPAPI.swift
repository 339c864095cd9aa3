import Foundation
import Hummingbird
import KognitaCore
import KognitaLedger
import KognitaSystem
import Logging
import NIOCore

/// The node's HTTP API for people and tools (bound to 127.0.0.1 by default):
///
/// - `POST /v1/batches` (body: a COSE_Sign1 batch; `?wait=final` waits for the certificate)
/// - `GET /v1/batches/{id}`, `GET /v1/accounts/{id}`, `GET /v1/status`
/// - `GET /v1/checkpoints/latest`, `GET /v1/checkpoints/{epoch}` (JSON, or the
///   signed checkpoint's CBOR with `Accept: application/cbor`)
/// - `GET /metrics` (Prometheus text format)
/// - `POST /v1/faucet` with `{"account": HEX, "amount": N}`, where this node has the faucet key
///
/// Errors are JSON `{"error": reason, "detail": text}` with the contract's reason names.
public struct HTTPAPI: Sendable {
    let engine: NodeEngine
    let store: LedgerStore
    let metrics: NodeMetrics
    let genesis: Genesis
    let faucet: Faucet?
    /// How long `?wait=final` waits before answering with the `accepted` state.
    static let finalWait = Duration.seconds(30)

    public init(engine: NodeEngine, store: LedgerStore, metrics: NodeMetrics, genesis: Genesis, faucet: Faucet?) {
        self.engine = engine
        self.store = store
        self.metrics = metrics
        self.genesis = genesis
        self.faucet = faucet
    }

    /// The Hummingbird application serving the API on `address`.
    public func application(address: PeerAddress, logger: Logger,
                            onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: BasicRequestContext.self)
        router.post("/v1/batches") { request, _ in try await submit(request) }
        router.get("/v1/batches/:id") { _, context in try await lookUpBatch(try context.parameters.require("id")) }
        router.get("/v1/accounts/:id") { _, context in try await account(try context.parameters.require("id")) }
        router.get("/v1/status") { _, _ in await status() }
        router.get("/v1/checkpoints/:epoch") { request, context in try await checkpoint(try context.parameters.require("epoch"), request) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.post("/v1/faucet") { request, _ in try await pay(request) }
        router.get("/v1/validators") { _, _ in try await validators() }
        router.post("/v1/evidence") { request, _ in try await evidence(request) }
        return Application(router: router, configuration: .init(address: .hostname(address.host, port: address.port), serverName: "kognita-node"),
                           onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? address.port) },
                           logger: logger)
    }

    // MARK: Handlers

    func submit(_ request: Request) async throws -> Response {
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: ProtocolLimits.maxEnvelopeBytes) } catch {
            return Self.error(.contentTooLarge, "too-large", "a batch is at most \(ProtocolLimits.maxEnvelopeBytes) bytes")
        }
        let batch: SignedBatch
        do throws(ProtocolError) { batch = try SignedBatch.verify(Array(buffer: body)) } catch {
            metrics.rejected(error.reason)
            return Self.error(error.reason == .tooLarge ? .contentTooLarge : .badRequest, error.reason.name, error.description)
        }
        let wait = request.uri.queryParameters.get("wait") == "final"
        let answer = await firstAck(of: await engine.submit(batch), within: Self.finalWait) { !wait || $0.status != .accepted }
        return Self.ackResponse(answer ?? Ack(id: batch.id, seq: batch.batch.seq, status: .accepted), timedOut: answer == nil)
    }

    func lookUpBatch(_ text: String) async throws -> Response {
        guard let id = try? BatchID(hex: text) else { return Self.error(.badRequest, "malformed", "a batch id is 64 hex characters") }
        let store = self.store
        // A SQLite read blocks: on the readers' threads, not Swift's cooperative pool.
        let finals = try await withTaskExecutorPreference(NodeIO.readers) { try store.finalBatches(id: id) }
        guard !finals.isEmpty else {
            return Self.error(.notFound, "unknown", "no final batch \(text) on this node (it may still be pending, or never arrived)")
        }
        return Self.json(.ok, BatchLookupResponse(id: id.rawValue.hex, batches: finals.map { final in
            BatchLookupResponse.FinalBatch(account: final.batch.signer.hex, seq: final.batch.batch.seq, transfers: final.batch.batch.transfers.count,
                                           fee: final.batch.batch.fee.baseUnits, appliedAt: final.appliedAt, certificate: Hex.encode(final.certificate))
        }))
    }

    func account(_ text: String) async throws -> Response {
        guard let account = try? AccountID(hex: text) else { return Self.error(.badRequest, "malformed", "an account id is 64 hex characters") }
        let head = await engine.head(of: account)
        return Self.json(.ok, AccountResponse(account: account.hex, nextSeq: head.nextSeq, lastFinal: head.lastFinal.rawValue.hex,
                                              balance: head.balance.baseUnits))
    }

    func status() async -> Response { Self.json(.ok, Self.status(of: await engine.snapshot(), genesis: genesis, faucet: faucet?.account)) }

    /// `/v1/status` from one engine snapshot.
    static func status(of snapshot: NodeEngine.Snapshot, genesis: Genesis, faucet: AccountID?) -> NodeStatusResponse {
        let connected = Set(snapshot.peers.map(\.identity))
        let identity = snapshot.identity
        let committee = snapshot.committee
        let others = committee.validators.filter { $0.id != identity }
        let genesisAddresses = Dictionary(genesis.validators.map { ($0.id, $0.address) }, uniquingKeysWith: { first, _ in first })
        let now = WallClock.unixMillis()
        return NodeStatusResponse(
            node: identity.hex, network: committee.network.rawValue, genesis: genesis.digest.hex, epoch: committee.epoch,
            role: snapshot.isValidator ? "validator" : "full node", ready: snapshot.ready,
            committee: committee.validators.map { validator in
                .init(id: validator.id.hex, weight: validator.weight,
                      address: snapshot.addresses[validator.id] ?? genesisAddresses[validator.id] ?? "",
                      connected: validator.id == identity ? nil : connected.contains(validator.id), isSelf: validator.id == identity)
            },
            validatorsConnected: others.filter { connected.contains($0.id) }.count, validatorsExpected: others.count,
            peers: snapshot.peers.map { .init(id: $0.identity.hex, role: $0.role.description, address: $0.remote) },
            clients: snapshot.clients,
            ledger: .init(accounts: snapshot.accounts, digest: snapshot.digest.hex, totalMoney: UInt64(clamping: snapshot.totalMoney),
                          supply: genesis.supply.baseUnits, feePool: snapshot.feePool.baseUnits, pendingBatches: snapshot.pendingBatches),
            counters: .init(batchesReceived: snapshot.counters.batchesReceived, batchesFinal: snapshot.counters.batchesFinal,
                            transfersFinal: snapshot.counters.transfersFinal, votesSent: snapshot.counters.votesSent,
                            certificatesFormed: snapshot.counters.certificatesFormed, rejected: snapshot.counters.rejected,
                            catchUpBatches: snapshot.counters.catchUpBatches),
            faucet: faucet?.hex,
            epochState: .init(endsAtMillis: snapshot.epoch.endMillis, endsInMillis: snapshot.epoch.endMillis > now ? snapshot.epoch.endMillis - now : 0,
                              sealed: snapshot.epoch.sealed, round: snapshot.epoch.round,
                              lastCheckpoint: snapshot.epoch.lastCheckpoint.map { CheckpointResponse($0) }))
    }

    /// `GET /v1/checkpoints/{epoch|latest}`.
    func checkpoint(_ which: String, _ request: Request) async throws -> Response {
        let epoch: UInt64?
        if which == "latest" { epoch = nil } else {
            guard let number = UInt64(which) else {
                return Self.error(.badRequest, "malformed", "'\(which)' is not an epoch number or 'latest'")
            }
            epoch = number
        }
        let store = self.store
        let stored = try await withTaskExecutorPreference(NodeIO.readers) { try store.checkpoint(epoch: epoch) }
        guard let stored else {
            let what = epoch.map { "epoch \($0) has no checkpoint on this node yet" } ?? "this network has no checkpoint yet (the first comes at the end of epoch 0)"
            return Self.error(.notFound, "not-found", what)
        }
        if request.headers[.accept]?.contains("application/cbor") == true {
            return Response(status: .ok, headers: [.contentType: "application/cbor"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: stored.signed.encoded())))
        }
        return Self.json(.ok, CheckpointResponse(stored.signed, adoptedAtMillis: stored.adoptedAtMillis == 0 ? nil : stored.adoptedAtMillis,
                                                 bodies: stored.bodies))
    }

    /// `GET /v1/validators`: candidates with bonds, ratings, seats and rewards
    /// (seats and rewards from the last ``validatorHistoryEpochs`` checkpoints this node keeps).
    func validators() async throws -> Response {
        let (epoch, stakes, ratings, committee) = await engine.governance()
        let store = self.store
        let first = epoch > Self.validatorHistoryEpochs ? epoch - Self.validatorHistoryEpochs : 0
        let history: [(epoch: UInt64, committee: [PublicKey], rewards: [PublicKey: UInt64])] = try await withTaskExecutorPreference(NodeIO.readers) {
            var result: [(UInt64, [PublicKey], [PublicKey: UInt64])] = []
            for number in first..<epoch {
                guard let stored = try store.checkpoint(epoch: number, kinds: [.rewards]) else { continue }
                let paid = stored.bodies[.rewards].flatMap { try? EpochRewards(decoding: $0) }?.payouts ?? []
                // Checkpoint `number` names the committee of epoch number + 1.
                result.append((number + 1, stored.signed.header.nextCommittee.map(\.id),
                               Dictionary(paid.map { ($0.node, $0.amount) }, uniquingKeysWith: +)))
            }
            return result
        }
        var entries: [ValidatorsResponse.Entry] = []
        for (account, stake) in stakes.sorted(by: { $0.key < $1.key }) {
            guard let registration = stake.candidate else { continue }
            let node = registration.node
            let record = ratings.records[node]
            var seats = history.filter { $0.committee.contains(node) }.map(\.epoch)
            if epoch == 0 && committee.contains(node) { seats.append(0) }
            entries.append(.init(node: node.hex, account: account.hex, bonded: stake.bonded, unbonding: stake.unbonding,
                                 rating: ratings.rating(of: node), slashed: ratings.isSlashed(node), weight: committee.weight(of: node),
                                 addresses: registration.addresses,
                                 ratingHistory: (record?.window ?? []).map { .init(epoch: $0.epoch, measure: $0.measure) },
                                 committeeEpochs: seats,
                                 rewards: history.compactMap { entry in entry.rewards[node].map { .init(epoch: entry.epoch - 1, amount: $0) } }))
        }
        return Self.json(.ok, ValidatorsResponse(epoch: epoch, validators: entries))
    }

    /// How many past checkpoints `/v1/validators` reads for seats and rewards.
    static let validatorHistoryEpochs: UInt64 = 100

    /// `POST /v1/evidence`: a proof of equivocation (CBOR, ``EquivocationProof``).
    func evidence(_ request: Request) async throws -> Response {
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: EquivocationProof.maxEncodedBytes) } catch {
            return Self.error(.contentTooLarge, "too-large", "an equivocation proof is at most \(EquivocationProof.maxEncodedBytes) bytes")
        }
        let proof: EquivocationProof
        do throws(LedgerError) { proof = try EquivocationProof(decoding: Array(buffer: body)) } catch {
            return Self.error(.badRequest, "malformed", "\(error.message); send the CBOR proof (docs/ECONOMICS.md, \"Equivocation\")")
        }
        if let refused = await engine.received(evidence: proof) {
            return Self.error(.unprocessableContent, "refused", refused)
        }
        return Self.json(.accepted, EvidenceResponse(status: "accepted", offender: proof.offender.hex))
    }

    func pay(_ request: Request) async throws -> Response {
        guard let faucet else {
            return Self.error(.notFound, "no-faucet", "this node serves no faucet (only the node with [faucet] key in its node.toml does)")
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: 4096) } catch {
            return Self.error(.contentTooLarge, "too-large", "a faucet request is a small JSON object")
        }
        guard let request = try? JSONDecoder().decode(FaucetRequest.self, from: Data(Array(buffer: body))),
              let account = try? AccountID(hex: request.account), request.amount > 0, request.amount <= UInt64(Int64.max) else {
            return Self.error(.badRequest, "malformed", "expected {\"account\": \"<64 hex characters>\", \"amount\": <base units, at least 1>}")
        }
        let amountNumber = request.amount
        do {
            let ack = try await faucet.pay(Amount(amountNumber), to: account)
            return Self.ackResponse(ack, timedOut: false)
        } catch {
            return Self.error(.serviceUnavailable, "faucet-failed", "\(error)")
        }
    }

    // MARK: Responses

    /// A Codable value as the JSON body.
    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every response type encodes without failing (plain fields only).
        var body = (try? encoder.encode(value)) ?? Data("{}".utf8)
        body.append(UInt8(ascii: "\n"))
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func error(_ status: HTTPResponse.Status, _ reason: String, _ detail: String) -> Response {
        json(status, ErrorResponse(error: reason, detail: detail))
    }

    /// An ack as JSON, with an HTTP status that matches it.
    static func ackResponse(_ ack: Ack, timedOut: Bool) -> Response {
        let body = AckResponse(ack, note: timedOut ? "not final within \(finalWait); ask GET /v1/batches/{id} later" : nil)
        let status: HTTPResponse.Status
        switch (ack.status, ack.reason) {
        case (.accepted, _): status = .accepted
        case (.final, _), (.head, _): status = .ok
        case (.rejected, .malformed?), (.rejected, .badSignature?): status = .badRequest
        case (.rejected, .tooLarge?): status = .contentTooLarge
        case (.rejected, .overloaded?): status = .serviceUnavailable
        case (.rejected, .stale?), (.rejected, .conflict?): status = .conflict
        case (.rejected, _): status = .unprocessableContent
        }
        return json(status, body)
    }
}

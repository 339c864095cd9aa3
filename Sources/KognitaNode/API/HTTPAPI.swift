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
        router.get("/v1/batches/:id") { _, context in try lookUpBatch(try context.parameters.require("id")) }
        router.get("/v1/accounts/:id") { _, context in try await account(try context.parameters.require("id")) }
        router.get("/v1/status") { _, _ in await status() }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.post("/v1/faucet") { request, _ in try await pay(request) }
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

    func lookUpBatch(_ text: String) throws -> Response {
        guard let id = try? BatchID(hex: text) else { return Self.error(.badRequest, "malformed", "a batch id is 64 hex characters") }
        let finals = try store.finalBatches(id: id)
        guard !finals.isEmpty else {
            return Self.error(.notFound, "unknown", "no final batch \(text) on this node (it may still be pending, or never arrived)")
        }
        let items = finals.map { final in
            JSONText.object([
                ("account", JSONText.string(final.batch.signer.hex)), ("seq", "\(final.batch.batch.seq)"),
                ("transfers", "\(final.batch.batch.transfers.count)"), ("fee", "\(final.batch.batch.fee.baseUnits)"),
                ("applied_at", "\(final.appliedAt)"), ("certificate", JSONText.string(Hex.encode(final.certificate))),
            ])
        }
        // Two accounts may sign byte-identical payloads (one id), so the answer lists every final batch with this id.
        return Self.json(.ok, JSONText.object([
            ("status", JSONText.string("final")), ("id", JSONText.string(id.rawValue.hex)), ("batches", "[" + items.joined(separator: ",") + "]"),
        ]))
    }

    func account(_ text: String) async throws -> Response {
        guard let account = try? AccountID(hex: text) else { return Self.error(.badRequest, "malformed", "an account id is 64 hex characters") }
        let head = await engine.head(of: account)
        return Self.json(.ok, JSONText.object([
            ("account", JSONText.string(account.hex)), ("next_seq", "\(head.nextSeq)"),
            ("last_final", JSONText.string(head.lastFinal.rawValue.hex)), ("balance", "\(head.balance.baseUnits)"),
        ]))
    }

    func status() async -> Response {
        let committee = await engine.committee
        let peers = await engine.connectedPeers()
        let connected = Set(peers.map(\.identity))
        let counters = await engine.counters
        let identity = await engine.identity.publicKey
        let members = genesis.validators.map { validator in
            JSONText.object([
                ("id", JSONText.string(validator.id.hex)), ("weight", "\(validator.weight)"),
                ("address", JSONText.string(validator.address)),
                ("connected", validator.id == identity ? "null" : (connected.contains(validator.id) ? "true" : "false")),
                ("self", validator.id == identity ? "true" : "false"),
            ])
        }
        let peerList = peers.map { link in
            JSONText.object([("id", JSONText.string(link.identity.hex)), ("role", JSONText.string(link.role.description)),
                             ("address", JSONText.string(link.remote))])
        }
        let otherValidators = genesis.validators.filter { $0.id != identity }
        let body = JSONText.object([
            ("node", JSONText.string(identity.hex)),
            ("network", JSONText.string(committee.network.rawValue)),
            ("genesis", JSONText.string(genesis.digest.hex)),
            ("epoch", "\(committee.epoch)"),
            ("role", JSONText.string(await engine.isValidator ? "validator" : "full node")),
            ("ready", await engine.ready ? "true" : "false"),
            ("committee", "[" + members.joined(separator: ",") + "]"),
            ("validators_connected", "\(otherValidators.filter { connected.contains($0.id) }.count)"),
            ("validators_expected", "\(otherValidators.count)"),
            ("peers", "[" + peerList.joined(separator: ",") + "]"),
            ("clients", "\(await engine.clientCount())"),
            ("ledger", JSONText.object([
                ("accounts", "\(await engine.accountCount())"),
                ("digest", JSONText.string(await engine.ledgerDigest().hex)),
                ("total_money", "\(await engine.totalMoney())"),
                ("supply", "\(genesis.supply.baseUnits)"),
                ("fee_pool", "\(await engine.feePool().baseUnits)"),
                ("pending_batches", "\(await engine.pendingCount())"),
            ])),
            ("counters", JSONText.object([
                ("batches_received", "\(counters.batchesReceived)"), ("batches_final", "\(counters.batchesFinal)"),
                ("transfers_final", "\(counters.transfersFinal)"), ("votes_sent", "\(counters.votesSent)"),
                ("certificates_formed", "\(counters.certificatesFormed)"), ("rejected", "\(counters.rejected)"),
                ("catch_up_batches", "\(counters.catchUpBatches)"),
            ])),
            ("faucet", faucet.map { JSONText.string($0.account.hex) } ?? "null"),
        ])
        return Self.json(.ok, body)
    }

    func pay(_ request: Request) async throws -> Response {
        guard let faucet else {
            return Self.error(.notFound, "no-faucet", "this node serves no faucet (only the node with [faucet] key in its node.toml does)")
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: 4096) } catch {
            return Self.error(.contentTooLarge, "too-large", "a faucet request is a small JSON object")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(Array(buffer: body))) as? [String: Any],
              let accountText = object["account"] as? String, let account = try? AccountID(hex: accountText),
              let amountNumber = object["amount"] as? NSNumber, amountNumber.int64Value > 0 else {
            return Self.error(.badRequest, "malformed", "expected {\"account\": \"<64 hex characters>\", \"amount\": <base units, at least 1>}")
        }
        do {
            let ack = try await faucet.pay(Amount(UInt64(amountNumber.int64Value)), to: account)
            return Self.ackResponse(ack, timedOut: false)
        } catch {
            return Self.error(.serviceUnavailable, "faucet-failed", "\(error)")
        }
    }

    // MARK: Responses

    static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body + "\n")))
    }

    static func error(_ status: HTTPResponse.Status, _ reason: String, _ detail: String) -> Response {
        json(status, JSONText.object([("error", JSONText.string(reason)), ("detail", JSONText.string(detail))]))
    }

    /// An ack as JSON, with an HTTP status that matches it.
    static func ackResponse(_ ack: Ack, timedOut: Bool) -> Response {
        var fields: [(String, String)] = [("status", JSONText.string(ack.status.description))]
        if let id = ack.id { fields.append(("id", JSONText.string(id.rawValue.hex))) }
        if let seq = ack.seq { fields.append(("seq", "\(seq)")) }
        if let reason = ack.reason { fields.append(("error", JSONText.string(reason.name))) }
        if let detail = ack.detail { fields.append(("detail", JSONText.string(detail))) }
        if timedOut { fields.append(("detail", JSONText.string("not final within \(finalWait); ask GET /v1/batches/{id} later"))) }
        if let head = ack.head {
            fields.append(("head", JSONText.object([("next_seq", "\(head.nextSeq)"), ("last_final", JSONText.string(head.lastFinal.rawValue.hex)),
                                                     ("balance", "\(head.balance.baseUnits)")])))
        }
        if let cert = ack.cert { fields.append(("certificate", JSONText.string(Hex.encode(cert)))) }
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
        return json(status, JSONText.object(fields))
    }
}

import Foundation
import KognitaCore
import KognitaLedger
import KognitaSystem

/// The node's HTTP API with typed answers (``NodeStatusResponse``,
/// ``AccountResponse``, ...): what the CLI, the devnet and the tests use.
public struct NodeAPIClient: Sendable {
    /// The HTTP client underneath, for a request this type has no method for.
    public let http: NodeHTTPClient

    /// Parses `http://host[:port][/path]`.
    public init(url: String) throws(NodeURLError) { http = try NodeHTTPClient(url: url) }

    /// `GET /v1/status`.
    public func status(timeout: Duration = .seconds(10)) async throws -> NodeStatusResponse {
        try decode(NodeStatusResponse.self, try await http.request(.GET, "/v1/status", timeout: timeout), "/v1/status")
    }

    /// `GET /v1/accounts/{id}`.
    public func account(_ account: AccountID, timeout: Duration = .seconds(10)) async throws -> AccountResponse {
        let path = "/v1/accounts/\(account.hex)"
        return try decode(AccountResponse.self, try await http.request(.GET, path, timeout: timeout), path)
    }

    /// `GET /v1/batches/{id}`; nil when the node has no final batch with this id.
    public func finalBatch(_ id: String, timeout: Duration = .seconds(10)) async throws -> BatchLookupResponse? {
        let path = "/v1/batches/\(id)"
        let response = try await http.request(.GET, path, timeout: timeout)
        if response.status == 404 { return nil }
        return try decode(BatchLookupResponse.self, response, path)
    }

    /// `POST /v1/batches` (with `?wait=final` when `waitFinal`): the node's
    /// ack and the HTTP status. A rejection is an answer, not an error.
    public func submit(_ envelope: [UInt8], waitFinal: Bool, timeout: Duration = .seconds(60)) async throws -> (httpStatus: Int, ack: AckResponse) {
        let path = waitFinal ? "/v1/batches?wait=final" : "/v1/batches"
        let response = try await http.request(.POST, path, body: envelope, contentType: "application/cose", timeout: timeout)
        return (response.status, try submitAnswer(response, path))
    }

    /// The ack in a `POST /v1/batches` answer: a rejection (4xx) carries an
    /// ack too; other errors become a ``NodeAPIError``.
    public func submitAnswer(_ response: NodeHTTPClient.Response, _ path: String) throws -> AckResponse {
        if let ack = try? JSONDecoder().decode(AckResponse.self, from: Data(response.body)) { return ack }
        return try decode(AckResponse.self, response, path)
    }

    /// `POST /v1/faucet`: pays `amount` to `account`; returns the final ack.
    public func faucet(_ account: AccountID, amount: UInt64, timeout: Duration = .seconds(60)) async throws -> AckResponse {
        let body = try JSONEncoder().encode(FaucetRequest(account: account.hex, amount: amount))
        let response = try await http.request(.POST, "/v1/faucet", body: Array(body), contentType: "application/json", timeout: timeout)
        return try decode(AckResponse.self, response, "/v1/faucet")
    }

    /// `GET /v1/validators`.
    public func validators(timeout: Duration = .seconds(10)) async throws -> ValidatorsResponse {
        try decode(ValidatorsResponse.self, try await http.request(.GET, "/v1/validators", timeout: timeout), "/v1/validators")
    }

    /// `POST /v1/evidence`: the HTTP status and the node's answer (a refusal is an answer, with its reason).
    public func submitEvidence(_ proof: EquivocationProof, timeout: Duration = .seconds(10)) async throws -> (httpStatus: Int, body: String) {
        let response = try await http.request(.POST, "/v1/evidence", body: proof.encoded(), contentType: "application/cbor", timeout: timeout)
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    /// `GET /v1/checkpoints/{epoch}` (the latest with nil), as JSON; nil when there is none yet.
    public func checkpoint(_ epoch: UInt64?, timeout: Duration = .seconds(10)) async throws -> CheckpointResponse? {
        let path = "/v1/checkpoints/\(epoch.map(String.init) ?? "latest")"
        let response = try await http.request(.GET, path, timeout: timeout)
        if response.status == 404 { return nil }
        return try decode(CheckpointResponse.self, response, path)
    }

    /// The signed checkpoint of `epoch` (the latest with nil) as the node
    /// stores it (CBOR, decoded here; not verified); nil when there is none.
    public func signedCheckpoint(_ epoch: UInt64?, timeout: Duration = .seconds(10)) async throws -> SignedCheckpoint? {
        let path = "/v1/checkpoints/\(epoch.map(String.init) ?? "latest")"
        let response = try await http.request(.GET, path, headers: [("Accept", "application/cbor")], timeout: timeout)
        if response.status == 404 { return nil }
        guard response.status == 200 else { _ = try decode(ErrorResponse.self, response, path); throw NodeURLError("\(path): HTTP \(response.status)") }
        do throws(LedgerError) { return try SignedCheckpoint(decoding: response.body) } catch {
            throw NodeURLError("\(http.host):\(http.port) answered \(path) with bytes that are not a signed checkpoint: \(error)")
        }
    }

    /// Signs a batch of `operations` (contract version 2) at the account's
    /// next seq as this node knows it, submits it and waits for the outcome:
    /// the final ack, or a ``NodeAPIError``-free ack that says `rejected`.
    public func submitOperations(_ operations: [KognitaCore.Operation], account key: SigningKey, fee: Amount = .zero,
                                 timeout: Duration = .seconds(60)) async throws -> AckResponse {
        let status = try await self.status()
        let head = try await account(key.publicKey)
        let network = try NetworkID(status.network)
        let prev = try BatchID(hex: head.lastFinal)
        let batch = try SignedBatch.sign(Batch(network: network, seq: head.nextSeq, prev: prev, created: WallClock.unixMillis(),
                                               fee: fee, transfers: [], operations: operations), with: key)
        return try await submit(batch.envelope, waitFinal: true, timeout: timeout).ack
    }

    /// The answer as `T`; the node's error (a ``NodeAPIError``) for a 4xx or 5xx.
    public func decode<T: Decodable>(_ type: T.Type, _ response: NodeHTTPClient.Response, _ path: String) throws -> T {
        let body = Data(response.body)
        if response.status >= 400 {
            let error = try? JSONDecoder().decode(ErrorResponse.self, from: body)
            throw NodeAPIError(status: response.status, path: path, error: error, body: response.text)
        }
        do { return try JSONDecoder().decode(T.self, from: body) } catch {
            throw NodeURLError("\(http.host):\(http.port) answered \(path) with HTTP \(response.status) and a body that is not a Kognita node's "
                               + "\(T.self) (\(error)); is this a kognita-node API address, and is the node the same version as this tool?")
        }
    }
}

/// A node answered with an error (HTTP 4xx or 5xx).
public struct NodeAPIError: Error, Sendable, CustomStringConvertible {
    public let status: Int
    public let path: String
    /// The node's reason and detail, when it sent them as JSON.
    public let error: ErrorResponse?
    /// The body as text, for an answer that was not JSON.
    public let body: String

    public var description: String {
        if let error { return "\(error.error): \(error.detail)" }
        return "HTTP \(status) for \(path): \(body.prefix(300))"
    }
}

import Foundation
import KognitaCore
import KognitaNode
import Testing

@Suite("typed API responses")
struct APIResponsesTests {
    static let status = NodeStatusResponse(
        node: String(repeating: "ab", count: 32), network: "demo", genesis: String(repeating: "cd", count: 32), epoch: 0,
        role: "validator", ready: true,
        committee: [.init(id: String(repeating: "ab", count: 32), weight: 1, address: "127.0.0.1:7401", connected: nil, isSelf: true),
                    .init(id: String(repeating: "ef", count: 32), weight: 2, address: "127.0.0.1:7402", connected: false, isSelf: false)],
        validatorsConnected: 0, validatorsExpected: 1,
        peers: [.init(id: String(repeating: "ef", count: 32), role: "validator", address: "127.0.0.1:50000")], clients: 2,
        ledger: .init(accounts: 3, digest: String(repeating: "01", count: 32), totalMoney: 1_000, supply: 1_000, feePool: 7, pendingBatches: 4),
        counters: .init(batchesReceived: 1, batchesFinal: 2, transfersFinal: 3, votesSent: 4, certificatesFormed: 5, rejected: 6, catchUpBatches: 7),
        faucet: nil)

    func roundTrip<T: Codable & Equatable>(_ value: T) throws -> (T, [String: Any]) {
        let data = try JSONEncoder().encode(value)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return (try JSONDecoder().decode(T.self, from: data), object)
    }

    @Test("/v1/status round-trips and keeps the field names scripts read (ready, ledger.digest, counters..., null for self and no faucet)")
    func statusRoundTrip() throws {
        let (decoded, object) = try roundTrip(Self.status)
        #expect(decoded == Self.status)
        #expect(Set(object.keys) == ["node", "network", "genesis", "epoch", "role", "ready", "committee", "validators_connected",
                                     "validators_expected", "peers", "clients", "ledger", "counters", "faucet"])
        #expect(object["faucet"] is NSNull)
        let ledger = try #require(object["ledger"] as? [String: Any])
        #expect(Set(ledger.keys) == ["accounts", "digest", "total_money", "supply", "fee_pool", "pending_batches"])
        let counters = try #require(object["counters"] as? [String: Any])
        #expect(Set(counters.keys) == ["batches_received", "batches_final", "transfers_final", "votes_sent", "certificates_formed",
                                       "rejected", "catch_up_batches"])
        let me = try #require((object["committee"] as? [[String: Any]])?.first)
        #expect(me["connected"] is NSNull && me["self"] as? Bool == true)
    }

    @Test("account, batch lookup, ack and error answers round-trip with their field names")
    func otherAnswers() throws {
        let account = AccountResponse(account: String(repeating: "ab", count: 32), nextSeq: 3, lastFinal: String(repeating: "0", count: 64), balance: 9)
        let (a, accountJSON) = try roundTrip(account)
        #expect(a == account && Set(accountJSON.keys) == ["account", "next_seq", "last_final", "balance"])

        let lookup = BatchLookupResponse(id: String(repeating: "12", count: 32), batches: [
            .init(account: String(repeating: "ab", count: 32), seq: 1, transfers: 2, fee: 0, appliedAt: 1_767_225_600_000, certificate: "a1"),
        ])
        let (l, lookupJSON) = try roundTrip(lookup)
        #expect(l == lookup && lookupJSON["status"] as? String == "final")
        #expect(Set(((lookupJSON["batches"] as? [[String: Any]])?.first ?? [:]).keys) == ["account", "seq", "transfers", "fee", "applied_at", "certificate"])

        let head = AccountHead(nextSeq: 5, lastFinal: BatchID(BLAKE2b256.hash([1])), balance: Amount(10))
        let ack = AckResponse(Ack(id: BatchID(BLAKE2b256.hash([2])), seq: 4, status: .rejected, reason: .stale, detail: "seq 4 is final", head: head),
                              note: "and a note")
        let (k, ackJSON) = try roundTrip(ack)
        #expect(k == ack)
        #expect(ack.status == "rejected" && ack.error == "stale" && ack.detail == "seq 4 is final; and a note")
        #expect(Set(((ackJSON["head"] as? [String: Any]) ?? [:]).keys) == ["next_seq", "last_final", "balance"])
        // Absent fields are left out, never null, as the API always did.
        #expect(ackJSON["certificate"] == nil)

        let error = ErrorResponse(error: "malformed", detail: "a batch id is 64 hex characters")
        let (e, errorJSON) = try roundTrip(error)
        #expect(e == error && Set(errorJSON.keys) == ["error", "detail"])
    }

    @Test("a node's error answer becomes a NodeAPIError that says what the node said")
    func errorsAreTyped() throws {
        let api = try NodeAPIClient(url: "http://127.0.0.1:1")
        let body = try JSONEncoder().encode(ErrorResponse(error: "unknown", detail: "no final batch"))
        do {
            _ = try api.decode(AccountResponse.self, .init(status: 404, body: Array(body)), "/v1/batches/x")
            Issue.record("a 404 decoded as an answer")
        } catch let error as NodeAPIError {
            #expect(error.status == 404 && error.description == "unknown: no final batch")
        }
        // Not a Kognita answer: the error says so.
        #expect(throws: NodeURLError.self) { try api.decode(AccountResponse.self, .init(status: 200, body: Array("{}".utf8)), "/v1/accounts/x") }
    }
}

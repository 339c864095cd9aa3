import KognitaCore
import KognitaLedger
import KognitaTesting
import Testing
@testable import KognitaNode

@Suite("Peer protocol: messages, handshake rules, encrypted streams")
struct PeerProtocolTests {
    let fixture = LedgerFixture()

    func sampleMessages() -> [PeerMessage] {
        let batch = fixture.batch(seq: 1, amounts: [5, 6])
        let key = BatchKey(batch)
        let vote = Vote.sign(keys: [key, BatchKey(fixture.batch(seq: 2))], network: fixture.network, epoch: 0, with: fixture.validatorKeys[0])
        let head = AccountHead(nextSeq: 3, lastFinal: batch.id, balance: 99)
        return [
            .submit(request: 7, envelope: batch.envelope),
            .headQuery(request: 8, account: fixture.payer.publicKey),
            .reply(request: 9, ack: try! Ack(id: batch.id, seq: 1, status: .accepted).encoded()),
            .forward(envelope: batch.envelope),
            .vote(vote),
            .refusal(batch: key, reason: .insufficientFunds, detail: "needs 11", head: head),
            .headsRequest(request: 1, after: nil, limit: 10),
            .headsRequest(request: 2, after: fixture.payee.publicKey, limit: 4096),
            .heads(request: 3, entries: [.init(account: fixture.payer.publicKey, nextSeq: 4)], complete: true),
            .batchesRequest(request: 4, account: fixture.payer.publicKey, from: 2, limit: 256),
            .batches(request: 5, entries: [.init(envelope: batch.envelope, certificate: [1, 2, 3])]),
            .checkpointsRequest(request: 6, from: 3),
            .progress(epoch: 0),
            .progress(epoch: 1 << 40),
        ]
    }

    @Test("every message survives encoding and decoding unchanged")
    func roundTrip() throws {
        for message in sampleMessages() {
            #expect(try PeerMessage(decoding: message.encoded()) == message)
        }
    }

    @Test("a truncated message, trailing bytes, an unknown type or a wrong field count are refused")
    func malformedMessages() {
        for message in sampleMessages() {
            let bytes = message.encoded()
            #expect(throws: PeerProtocolError.self) { try PeerMessage(decoding: Array(bytes.dropLast())) }
            #expect(throws: PeerProtocolError.self) { try PeerMessage(decoding: bytes + [0]) }
        }
        #expect(throws: PeerProtocolError.self) { try PeerMessage(decoding: [0x82, 0x18, 0x63, 0x00]) } // [99, 0]
        #expect(throws: PeerProtocolError.self) { try PeerMessage(decoding: [0x82, 0x01, 0x00]) }       // submit with 1 field
        #expect(throws: PeerProtocolError.self) { try PeerMessage(decoding: []) }
    }

    @Test("an oversize batch inside a message is refused before it is copied")
    func oversizeEnvelope() {
        let message = PeerMessage.forward(envelope: [UInt8](repeating: 0, count: ProtocolLimits.maxEnvelopeBytes + 1))
        #expect(throws: PeerProtocolError.self) { try PeerMessage(decoding: message.encoded()) }
    }

    @Test("the handshake policy refuses another network, another genesis, an unexpected identity and a false validator claim")
    func handshakePolicy() throws {
        let genesis = BLAKE2b256.hash([1, 2, 3])
        let policy = HandshakePolicy(network: fixture.network, genesis: genesis, committee: fixture.committee)
        let validator = fixture.validatorKeys[1].publicKey, outsider = SigningKey().publicKey
        func hello(_ role: PeerRole, _ identity: PublicKey, network: NetworkID? = nil, genesis other: Bytes32? = nil) -> Hello {
            Hello(network: network ?? fixture.network, genesis: other ?? genesis, role: role, identity: identity, ephemeral: BLAKE2b256.hash([9]))
        }
        try policy.check(hello(.validator, validator), expected: validator)
        try policy.check(hello(.client, outsider), expected: nil)
        try policy.check(hello(.fullNode, outsider), expected: nil)
        #expect(throws: PeerProtocolError.self) { try policy.check(hello(.validator, outsider), expected: nil) }
        #expect(throws: PeerProtocolError.self) { try policy.check(hello(.validator, validator), expected: fixture.validatorKeys[2].publicKey) }
        #expect(throws: PeerProtocolError.self) { try policy.check(hello(.client, outsider, network: try NetworkID("other")), expected: nil) }
        #expect(throws: PeerProtocolError.self) { try policy.check(hello(.client, outsider, genesis: BLAKE2b256.hash([4])), expected: nil) }
        let encoded = hello(.fullNode, outsider).encoded()
        #expect(try Hello(decoding: encoded) == hello(.fullNode, outsider))
        #expect(throws: PeerProtocolError.self) { try Hello(decoding: encoded + [0]) }
    }

    @Test("both sides of a key exchange derive the same keys, and the stream refuses altered, replayed and reordered frames")
    func encryptedStream() throws {
        let client = EphemeralKeyExchange(), server = EphemeralKeyExchange()
        let clientKeys = try client.sessionKeys(peer: server.publicKey, isClient: true)
        let serverKeys = try server.sessionKeys(peer: client.publicKey, isClient: false)
        let sender = SecretStreamSender(keys: clientKeys)
        let first = [UInt8]("first frame".utf8).withUnsafeBytes { sender.seal($0) }
        let second = [UInt8]("second frame".utf8).withUnsafeBytes { sender.seal($0) }

        let receiver = try SecretStreamReceiver(keys: serverKeys, header: sender.header)
        #expect(try first.withUnsafeBytes { try receiver.open($0) } == Array("first frame".utf8))
        // Replaying the first frame fails: the stream has moved on.
        #expect(throws: SecretStreamError.self) { try first.withUnsafeBytes { try receiver.open($0) } }

        let reordered = try SecretStreamReceiver(keys: serverKeys, header: sender.header)
        #expect(throws: SecretStreamError.self) { try second.withUnsafeBytes { try reordered.open($0) } }

        var altered = first
        altered[altered.count / 2] ^= 1
        let fresh = try SecretStreamReceiver(keys: serverKeys, header: sender.header)
        #expect(throws: SecretStreamError.self) { try altered.withUnsafeBytes { try fresh.open($0) } }

        // The other direction uses the other key: the client cannot read its own frames back.
        let wrongDirection = try SecretStreamReceiver(keys: clientKeys, header: sender.header)
        #expect(throws: SecretStreamError.self) { try first.withUnsafeBytes { try wrongDirection.open($0) } }
    }

    @Test("a bounded map keeps at most its capacity and forgets the oldest first")
    func boundedMap() {
        var map = BoundedMap<Int, Int>(capacity: 100)
        for i in 0..<10_000 { map[i] = i }
        #expect(map.count == 100)
        #expect(map[9_999] == 9_999)
        #expect(map[0] == nil)
        map.removeValue(forKey: 9_999)
        #expect(map[9_999] == nil)
    }
}

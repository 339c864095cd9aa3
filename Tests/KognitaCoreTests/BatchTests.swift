import Testing
import KognitaCore
import KognitaTesting

/// Builders shared by the batch tests.
enum Fixtures {
    static let device = try! SigningKey(seed: [UInt8](repeating: 1, count: 32))
    static let recipient = try! AccountID(bytes: [UInt8](repeating: 0xab, count: 32))
    static let network = try! NetworkID("kognita-devnet")

    static func batch(transfers: Int = 2, seq: UInt64 = 1, fee: Amount = 3) -> Batch {
        Batch(network: network, seq: seq, prev: seq == 1 ? .zero : BatchID(BLAKE2b256.hash([1, 2, 3])),
              created: 1_764_000_000_000, fee: fee,
              transfers: (0..<transfers).map { i in
                  Transfer(to: recipient, amount: Amount(UInt64(10 + i)), sensor: "meter-1",
                           reading: Int64(i) * 1500 - 3000, at: 1_764_000_000_000 + UInt64(i))
              })
    }
}

@Suite("Batches, signed and verified")
struct BatchTests {
    @Test("a signed batch verifies, and its id is BLAKE2b-256 of the payload")
    func signAndVerify() throws {
        let signed = try SignedBatch.sign(Fixtures.batch(), with: Fixtures.device)
        let verified = try SignedBatch.verify(signed.envelope, expectedNetwork: Fixtures.network)
        #expect(verified.batch == Fixtures.batch())
        #expect(verified.signer == Fixtures.device.publicKey)
        #expect(verified.id == BatchID(payload: verified.payload))
        #expect(verified.algorithm == .edDSA)
        #expect(Array(signed.envelope.prefix(4)) == [0xd2, 0x84, 0x43, 0xa1])
    }

    @Test("decoding re-encodes to the same bytes (the encoding is canonical)")
    func canonical() throws {
        let payload = try Fixtures.batch(transfers: 64).encoded()
        #expect(try Batch(decoding: payload).encoded() == payload)
    }

    @Test("every single-byte change of a signed batch is refused")
    func everyByteFlipFails() throws {
        let envelope = try SignedBatch.sign(Fixtures.batch(), with: Fixtures.device).envelope
        for index in envelope.indices {
            for mask: UInt8 in [0x01, 0x02, 0x10, 0x80, 0xff] {
                var changed = envelope
                changed[index] ^= mask
                #expect(throws: ProtocolError.self, "byte \(index) ^ \(mask) was accepted") {
                    try SignedBatch.verify(changed)
                }
            }
        }
    }

    @Test("a batch for another network is refused as wrong-network, after its signature checks out")
    func wrongNetwork() throws {
        let envelope = try SignedBatch.sign(Fixtures.batch(), with: Fixtures.device).envelope
        let error = #expect(throws: ProtocolError.self) { try SignedBatch.verify(envelope, expectedNetwork: try NetworkID("other")) }
        #expect(error?.reason == .wrongNetwork)
    }

    @Test("the contract's rules are enforced when encoding, with the field named",
          arguments: [
            ("seq 0", RejectReason.malformed, "batch.seq"),
            ("prev set at seq 1", .malformed, "batch.prev"),
            ("no transfers", .malformed, "batch.transfers"),
            ("1025 transfers", .tooLarge, "batch.transfers"),
            ("amount 0", .malformed, "batch.transfers[1].amount"),
            ("sum overflows", .malformed, "batch.transfers"),
            ("sensor 65 bytes", .malformed, "batch.transfers[0].sensor"),
          ])
    func rules(name: String, reason: RejectReason, field: String) throws {
        var batch = Fixtures.batch()
        switch name {
        case "seq 0": batch.seq = 0
        case "prev set at seq 1": batch.prev = BatchID(BLAKE2b256.hash([9]))
        case "no transfers": batch.transfers = []
        case "1025 transfers": batch.transfers = Array(repeating: batch.transfers[0], count: 1025)
        case "amount 0": batch.transfers[1].amount = 0
        case "sum overflows": batch.transfers[0].amount = .max
        case "sensor 65 bytes": batch.transfers[0].sensor = String(repeating: "s", count: 65)
        default: Issue.record("unknown case \(name)")
        }
        let error = #expect(throws: ProtocolError.self) { try batch.encoded() }
        #expect(error?.reason == reason)
        #expect(error?.field == field)
    }

    @Test("amounts plus fee of exactly 2^64 - 1 are fine; one more overflows")
    func amountBoundary() throws {
        var batch = Fixtures.batch(transfers: 1, fee: 1)
        batch.transfers[0].amount = Amount(UInt64.max - 1)
        #expect(try batch.totalDebit() == .max)
        _ = try batch.encoded()
        batch.fee = 2
        #expect(throws: AmountError.self) { try batch.totalDebit() }
    }

    @Test("an oversize envelope is refused as too-large before it is parsed")
    func oversizeEnvelope() throws {
        let junk = [UInt8](repeating: 0xd2, count: ProtocolLimits.maxEnvelopeBytes + 1)
        let error = #expect(throws: ProtocolError.self) { try SignedBatch.verify(junk) }
        #expect(error?.reason == .tooLarge)
    }

    @Test("a signature by another key under this kid is bad-signature")
    func forgedKid() throws {
        let signed = try SignedBatch.sign(Fixtures.batch(), with: SigningKey())
        var envelope = signed.envelope
        // kid sits after D2 84 43 A1 01 27 A1 04 58 20.
        envelope.replaceSubrange(10..<42, with: Fixtures.device.publicKey.rawValue.bytes)
        let error = #expect(throws: ProtocolError.self) { try SignedBatch.verify(envelope) }
        #expect(error?.reason == .badSignature)
    }
}

@Suite("Amounts")
struct AmountTests {
    @Test("arithmetic throws instead of wrapping")
    func checked() throws {
        #expect(try Amount(5).adding(7) == 12)
        #expect(throws: AmountError.self) { try Amount.max.adding(1) }
        #expect(throws: AmountError.self) { try Amount(1).subtracting(2) }
        #expect(throws: AmountError.self) { try Amount(UInt64.max / 2 + 1).multiplied(by: 2) }
        #expect(try Amount.sum([1, 2, 3]) == 6)
    }
}

@Suite("Acks")
struct AckTests {
    static let head = AccountHead(nextSeq: 5, lastFinal: BatchID(BLAKE2b256.hash([4])), balance: 1000)
    static let id = BatchID(BLAKE2b256.hash([7]))

    @Test("each kind of ack round-trips through its encoding",
          arguments: [
            Ack(id: id, seq: 4, status: .accepted),
            Ack(id: id, seq: 4, status: .final, cert: [1, 2, 3]),
            Ack(id: id, seq: 4, status: .rejected, reason: .insufficientFunds, detail: "balance 3, need 10", head: head),
            Ack(status: .rejected, reason: .malformed, detail: "not CBOR"),
            Ack(seq: 5, status: .head, head: head),
          ])
    func roundTrip(ack: Ack) throws {
        let bytes = try ack.encoded()
        #expect(try Ack(decoding: bytes) == ack)
        #expect(try CBORValue(decoding: bytes).encoded() == bytes) // deterministic
    }

    @Test("acks that break the status rules are refused",
          arguments: [
            Ack(status: .accepted),
            Ack(id: id, seq: 1, status: .rejected),
            Ack(id: id, seq: 1, status: .head, head: head),
            Ack(seq: 1, status: .head),
            Ack(id: id, seq: 1, status: .accepted, cert: [1]),
          ])
    func invalid(ack: Ack) {
        #expect(throws: ProtocolError.self) { try ack.encoded() }
    }

    @Test("unknown ack keys are skipped, so devices survive additions")
    func forwardCompatible() throws {
        let encoded = try CBORValue.map([
            .init(.unsigned(0), .bytes(Self.id.rawValue.bytes)), .init(.unsigned(1), .unsigned(4)),
            .init(.unsigned(2), .unsigned(1)), .init(.unsigned(23), .text("future")),
        ]).encoded()
        #expect(try Ack(decoding: encoded) == Ack(id: Self.id, seq: 4, status: .final))
    }
}

import Testing
import KognitaAgent
import KognitaCore
import KognitaSystem

@Suite("Uplink decisions")
struct UplinkTests {
    let chain = ChainMaker()

    func batches(_ count: Int, from seq: UInt64 = 1, prev: BatchID = .zero) -> [SignedBatch] {
        var made: [SignedBatch] = []
        var prev = prev
        for s in seq..<(seq + UInt64(count)) {
            let b = chain.batch(seq: s, prev: prev)
            made.append(b)
            prev = b.id
        }
        return made
    }

    static func published(_ actions: [Uplink.Action]) -> [UInt64] {
        actions.compactMap { if case .publish(let b) = $0 { b.batch.seq } else { nil } }
    }

    @Test("at most 16 batches are in flight; a final ack frees a slot and is recorded")
    func window() {
        let made = batches(20)
        var uplink = Uplink(pending: [])
        var sent: [UInt64] = []
        for b in made { sent += Self.published(uplink.spooled(b, now: 0)) }
        #expect(sent == Array(1...16))
        let actions = uplink.received(Ack(id: made[0].id, seq: 1, status: .final), now: 1)
        #expect(actions.first == .markFinal(made[0].id))
        #expect(Self.published(actions) == [17])
        #expect(uplink.received(Ack(id: made[0].id, seq: 1, status: .final), now: 2).isEmpty) // a duplicate final is harmless
    }

    @Test("unacknowledged batches are resent with growing delays")
    func resend() {
        let made = batches(1)
        var uplink = Uplink(pending: [])
        _ = uplink.spooled(made[0], now: 0)
        #expect(Self.published(uplink.tick(now: 4_999)).isEmpty)
        #expect(Self.published(uplink.tick(now: 5_000)) == [1])
        #expect(Self.published(uplink.tick(now: 14_999)).isEmpty)
        #expect(Self.published(uplink.tick(now: 15_000)) == [1])
        #expect(uplink.nextDeadline == 35_000)
    }

    @Test("a reconnect resends at once and starts the backoff over (a crashed broker lost what was in flight)")
    func reconnectRestartsBackoff() {
        let made = batches(1)
        var uplink = Uplink(pending: [])
        _ = uplink.spooled(made[0], now: 0)
        #expect(Self.published(uplink.tick(now: 5_000)) == [1])
        #expect(Self.published(uplink.tick(now: 15_000)) == [1])
        #expect(uplink.nextDeadline == 35_000)
        // Back after a broker restart: sent now, next resend after the first delay again, not 20 s.
        #expect(Self.published(uplink.connected(now: 16_000)) == [1])
        #expect(uplink.nextDeadline == 21_000)
        #expect(Self.published(uplink.tick(now: 20_999)).isEmpty)
        #expect(Self.published(uplink.tick(now: 21_000)) == [1])
    }

    @Test("stale: ask for the head, then re-chain from the stale batch on top of it")
    func stale() {
        let made = batches(3)
        var uplink = Uplink(pending: made)
        _ = uplink.connected(now: 0)
        #expect(uplink.received(Ack(id: made[1].id, seq: 2, status: .rejected, reason: .stale), now: 1) == [.requestSync])
        let foreign = BatchID(BLAKE2b256.hash([42]))
        let actions = uplink.received(Ack(seq: 3, status: .head, head: AccountHead(nextSeq: 3, lastFinal: foreign, balance: 10)), now: 2)
        // batch 1 is behind the head and not the last final: resent, not re-chained.
        #expect(actions.contains(.rechain(superseded: [made[1], made[2]], nextSeq: 3, prev: foreign)))
        #expect(Self.published(actions) == [1])
        #expect(uplink.pending == [made[0]])
    }

    @Test("a head whose last final batch is ours marks it final; an intact chain is just resent")
    func headMarksFinal() {
        let made = batches(3)
        var uplink = Uplink(pending: made)
        let actions = uplink.received(Ack(seq: 2, status: .head, head: AccountHead(nextSeq: 2, lastFinal: made[0].id, balance: 5)), now: 0)
        #expect(actions.first == .markFinal(made[0].id))
        #expect(!actions.contains { if case .rechain = $0 { true } else { false } })
        #expect(Self.published(actions) == [2, 3])
    }

    @Test("gap with a head that is behind our first batch: what we hold can never be final, so it is re-chained")
    func gap() {
        let made = batches(2, from: 5, prev: BatchID(BLAKE2b256.hash([4])))
        var uplink = Uplink(pending: made)
        let head = AccountHead(nextSeq: 3, lastFinal: BatchID(BLAKE2b256.hash([2])), balance: 0)
        let actions = uplink.received(Ack(id: made[0].id, seq: 5, status: .rejected, reason: .gap, head: head), now: 0)
        #expect(actions.contains(.rechain(superseded: made, nextSeq: 3, prev: head.lastFinal)))
    }

    @Test("conflict never re-chains (the lock may be our own copy); it backs off")
    func conflict() {
        let made = batches(1)
        var uplink = Uplink(pending: [])
        _ = uplink.spooled(made[0], now: 0)
        let actions = uplink.received(Ack(id: made[0].id, seq: 1, status: .rejected, reason: .conflict), now: 100)
        #expect(actions.isEmpty)
        #expect(uplink.pending == made)
    }

    @Test("insufficient funds pauses sending until the hold ends, and says so")
    func insufficientFunds() {
        let made = batches(2)
        var uplink = Uplink(pending: [])
        _ = uplink.spooled(made[0], now: 0)
        _ = uplink.received(Ack(id: made[0].id, seq: 1, status: .rejected, reason: .insufficientFunds,
                                head: AccountHead(nextSeq: 1, lastFinal: .zero, balance: 3)), now: 10)
        #expect(uplink.status.holdingUntil == 60_010)
        #expect(uplink.status.lastHead?.balance == 3)
        #expect(Self.published(uplink.spooled(made[1], now: 20)).isEmpty)
        #expect(Self.published(uplink.tick(now: 60_010)) == [1, 2])
    }

    @Test("not-authorized, wrong-network and fee-too-low hold and retry (fixable outside the device); nothing is set aside",
          arguments: [RejectReason.notAuthorized, .wrongNetwork, .feeTooLow])
    func holdsOnFixableRejections(reason: RejectReason) {
        let made = batches(1)
        var uplink = Uplink(pending: [])
        _ = uplink.spooled(made[0], now: 0)
        let actions = uplink.received(Ack(id: made[0].id, seq: 1, status: .rejected, reason: reason), now: 10)
        #expect(actions.isEmpty)
        #expect(uplink.pending == made)
        #expect(uplink.status.holdingUntil != nil)
        #expect(uplink.status.lastError?.contains(reason.name) == true)
        #expect(Self.published(uplink.tick(now: 60_010)) == [1])
    }

    @Test("malformed and bad-signature set the batch aside and re-chain what was built on it")
    func setAside() {
        let made = batches(2)
        var uplink = Uplink(pending: made)
        let actions = uplink.received(Ack(id: made[0].id, seq: 1, status: .rejected, reason: .badSignature, detail: "x"), now: 0)
        #expect(actions == [.setAside(made[0].id, reason: .badSignature, detail: "x"), .requestSync])
        let after = uplink.received(Ack(seq: 1, status: .head, head: AccountHead(nextSeq: 1, lastFinal: .zero, balance: 0)), now: 1)
        #expect(after.contains(.rechain(superseded: [made[1]], nextSeq: 1, prev: .zero)))
    }
}

/// A simulated network for one account: applies a batch when it continues the
/// chain, answers final for a resend of a final batch, stale/gap otherwise;
/// a rival writer sometimes takes the next seq. The channel drops messages.
@Suite("Uplink against a lossy simulated network")
struct UplinkSimulationTests {
    @Test("every transfer ends final exactly once, whatever is lost or contested", arguments: Array(UInt64(1)...30))
    func simulate(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let chain = ChainMaker()
        var uplink = Uplink(pending: [])
        // Network state.
        var finalBySeq: [UInt64: BatchID] = [:]
        var nextSeq: UInt64 = 1, lastFinal = BatchID.zero
        var paid: [String: Int] = [:] // transfer identity -> times final
        // Device state: the chain it will continue, and transfers to pay.
        var deviceNext: UInt64 = 1, devicePrev = BatchID.zero
        var produced = 0
        var inbox: [Ack] = []
        var now: UInt64 = 0

        func makeBatch(_ transfers: [Transfer]) -> SignedBatch {
            let b = try! SignedBatch.sign(Batch(network: try! NetworkID("kognita-devnet"), seq: deviceNext, prev: devicePrev,
                                                created: now, transfers: transfers), with: chain.key)
            deviceNext += 1
            devicePrev = b.id
            return b
        }
        func transfer(_ n: Int) -> Transfer {
            Transfer(to: chain.recipient, amount: 1, sensor: "t\(n)", reading: Int64(n), at: 0)
        }
        func network(_ b: SignedBatch) {
            guard UInt64.random(in: 0..<5, using: &random) != 0 else { return } // publish lost
            if finalBySeq[b.batch.seq] == b.id { inbox.append(Ack(id: b.id, seq: b.batch.seq, status: .final)); return }
            if UInt64.random(in: 0..<15, using: &random) == 0 && b.batch.seq == nextSeq {
                // A rival takes this seq first.
                let rival = BatchID(BLAKE2b256.hash(Array("rival\(nextSeq)".utf8)))
                finalBySeq[nextSeq] = rival; nextSeq += 1; lastFinal = rival
            }
            let head = AccountHead(nextSeq: nextSeq, lastFinal: lastFinal, balance: 1000)
            if b.batch.seq < nextSeq {
                inbox.append(Ack(id: b.id, seq: b.batch.seq, status: .rejected, reason: .stale, head: head))
            } else if b.batch.seq > nextSeq || b.batch.prev != lastFinal {
                inbox.append(Ack(id: b.id, seq: b.batch.seq, status: .rejected, reason: .gap))
            } else {
                finalBySeq[b.batch.seq] = b.id; nextSeq += 1; lastFinal = b.id
                for t in b.batch.transfers { paid[t.sensor!, default: 0] += 1 }
                inbox.append(Ack(id: b.id, seq: b.batch.seq, status: .final))
            }
        }
        func perform(_ actions: [Uplink.Action]) {
            for action in actions {
                switch action {
                case .publish(let b): network(b)
                case .requestSync:
                    if UInt64.random(in: 0..<4, using: &random) != 0 {
                        inbox.append(Ack(seq: nextSeq, status: .head, head: AccountHead(nextSeq: nextSeq, lastFinal: lastFinal, balance: 1000)))
                    }
                case .markFinal: break
                case .rechain(let superseded, let seq, let prev):
                    deviceNext = seq; devicePrev = prev
                    for old in superseded { perform(uplink.spooled(makeBatch(old.batch.transfers), now: now)) }
                case .setAside: Issue.record("nothing here is malformed")
                }
            }
        }

        for step in 0..<600 {
            now += 1_000
            if step < 300 {
                let transfers = (0..<Int.random(in: 1...3, using: &random)).map { _ -> Transfer in produced += 1; return transfer(produced) }
                perform(uplink.spooled(makeBatch(transfers), now: now))
            }
            inbox.shuffle(using: &random)
            let delivered = inbox.filter { _ in UInt64.random(in: 0..<6, using: &random) != 0 } // acks lost too
            inbox = []
            for ack in delivered { perform(uplink.received(ack, now: now)) }
            perform(uplink.tick(now: now))
        }
        // Let it settle without losses.
        for _ in 0..<200 where !uplink.pending.isEmpty {
            now += 70_000
            perform(uplink.tick(now: now))
            let delivered = inbox; inbox = []
            for ack in delivered { perform(uplink.received(ack, now: now)) }
        }
        #expect(uplink.pending.isEmpty, "still pending: \(uplink.pending.count)")
        #expect(paid.count == produced, "paid \(paid.count) of \(produced) transfers")
        #expect(paid.values.allSatisfy { $0 == 1 }, "some transfer was paid twice")
    }
}

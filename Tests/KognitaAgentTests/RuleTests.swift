import Testing
import KognitaAgent
import KognitaCore
import KognitaSystem

@Suite("per_unit rule")
struct PerUnitRuleTests {
    static let recipient = try! AccountID(bytes: [UInt8](repeating: 0xee, count: 32))
    static func settings(every: UInt64 = 10, price: UInt64 = 3, cap: UInt64 = 1_000_000, dipTolerance: Int64 = 0) -> PerUnitRule.Settings {
        .init(id: "water", sensor: "meter-1", recipient: recipient, everyUnits: every, pricePerUnit: price, hourlyCap: cap,
              dipToleranceMilliUnits: dipTolerance)
    }

    @Test("every N units pays price x units; the remainder carries over; the transfer says what triggered it")
    func blocks() {
        var rule = PerUnitRule(Self.settings())
        #expect(rule.observe(Reading(milliUnits: 1_000, at: 1)) == nil)   // first reading: baseline
        #expect(rule.observe(Reading(milliUnits: 9_000, at: 2)) == nil)   // 8 units: not yet 10
        let transfer = rule.observe(Reading(milliUnits: 26_500, at: 3))  // 25.5 units: 2 blocks
        #expect(transfer?.amount == 60)
        #expect(transfer?.sensor == "meter-1" && transfer?.reading == 26_500 && transfer?.at == 3)
        #expect(rule.state.unpaid == 5_500)
    }

    @Test("a counter that goes backwards was reset: what it shows is new consumption")
    func reset() {
        var rule = PerUnitRule(Self.settings(every: 1, price: 1))
        _ = rule.observe(Reading(milliUnits: 50_000, at: 1))
        #expect(rule.observe(Reading(milliUnits: 3_000, at: 2))?.amount == 3)
    }

    @Test("a drop within the dip tolerance is noise: nothing is counted until the counter passes its highest value; a larger drop is a reset")
    func noisyDip() {
        var rule = PerUnitRule(Self.settings(every: 1, price: 1, dipTolerance: 500))
        _ = rule.observe(Reading(milliUnits: 50_000, at: 1))
        #expect(rule.observe(Reading(milliUnits: 49_600, at: 2)) == nil)     // 0.4 units down: noise
        #expect(rule.state.lastCounter == 50_000 && rule.state.unpaid == 0)
        #expect(rule.observe(Reading(milliUnits: 50_900, at: 3)) == nil)     // 0.9 past the high: not a whole unit yet
        #expect(rule.observe(Reading(milliUnits: 51_000, at: 4))?.amount == 1)
        #expect(rule.lastReset == nil)
        #expect(rule.observe(Reading(milliUnits: 50_499, at: 5))?.amount == 50) // 0.501 down: a reset, 50.499 units new
        #expect(rule.lastReset == PerUnitRule.Reset(from: 51_000, to: 50_499))
        #expect(rule.state.lastCounter == 50_499 && rule.state.unpaid == 499)
        // A reset read just below zero counts from zero: it is not paid again later.
        _ = rule.observe(Reading(milliUnits: -200, at: 6))
        #expect(rule.state.lastCounter == 0 && rule.state.unpaid == 499)
        #expect(rule.observe(Reading(milliUnits: 501, at: 7))?.amount == 1)
        #expect(rule.state.unpaid == 0)
    }

    @Test("over random readings with resets, every milli-unit is paid once or still carried, and no hour passes its cap",
          arguments: [1, 2, 3, 4, 5] as [UInt64])
    func conservation(seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        let cap: UInt64 = 500
        var rule = PerUnitRule(Self.settings(every: 2, price: 7, cap: cap))
        var counter: Int64 = 0, consumed: UInt64 = 0, paid: UInt64 = 0
        var spentByHour: [UInt64: UInt64] = [:]
        var now: UInt64 = 1_767_225_600_000
        _ = rule.observe(Reading(milliUnits: counter, at: now))
        for _ in 0..<5_000 {
            now += UInt64.random(in: 100...120_000, using: &generator)
            if UInt64.random(in: 0..<100, using: &generator) == 0, counter > 5_000 {
                // A reset (only visible as such when the counter goes down), then this much consumed.
                counter = Int64.random(in: 0...5_000, using: &generator)
                consumed += UInt64(counter)
            } else {
                let step = Int64.random(in: 0...20_000, using: &generator)
                counter += step
                consumed += UInt64(step)
            }
            if let transfer = rule.observe(Reading(milliUnits: counter, at: now), mayPay: UInt64.random(in: 0..<4, using: &generator) != 0) {
                paid += transfer.amount.baseUnits
                spentByHour[now / 3_600_000, default: 0] += transfer.amount.baseUnits
            }
        }
        #expect(spentByHour.values.allSatisfy { $0 <= cap })
        // Paid blocks of 2 units at 7 per unit: 14 per 2,000 milli-units.
        #expect(paid / 14 * 2_000 + rule.state.unpaid == consumed)
    }

    @Test("over random noisy readings with resets, the rule never pays more than was consumed, and misses at most the tolerance per reset",
          arguments: [1, 2, 3, 4, 5] as [UInt64])
    func noisyConservation(seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        let tolerance: Int64 = 300
        var rule = PerUnitRule(Self.settings(every: 1, price: 1, dipTolerance: tolerance))
        var counter: Int64 = 0, consumed: UInt64 = 0, paid: UInt64 = 0, resets: UInt64 = 0
        _ = rule.observe(Reading(milliUnits: counter, at: 1))
        for t in 2..<5_000 as Range<UInt64> {
            if UInt64.random(in: 0..<100, using: &generator) == 0, counter > 6_000 {
                // A reset: the drop is larger than the tolerance even with noise on both sides.
                counter = Int64.random(in: 0...5_000, using: &generator)
                consumed += UInt64(counter)
                resets += 1
            } else {
                let step = Int64.random(in: 0...2_000, using: &generator)
                counter += step
                consumed += UInt64(step)
            }
            // The sensor reads low by up to the tolerance.
            let noise = Int64.random(in: 0...tolerance, using: &generator)
            if let transfer = rule.observe(Reading(milliUnits: counter - noise, at: t)) {
                paid += transfer.amount.baseUnits
            }
        }
        let counted = paid * 1_000 + rule.state.unpaid
        #expect(counted <= consumed)
        #expect(consumed - counted <= UInt64(tolerance) * (resets + 1))
        #expect(resets > 10)
    }

    @Test("with the spool full, consumption is counted and paid later, nothing lost")
    func backPressure() {
        var rule = PerUnitRule(Self.settings(every: 1, price: 1))
        _ = rule.observe(Reading(milliUnits: 0, at: 1))
        #expect(rule.observe(Reading(milliUnits: 7_000, at: 2), mayPay: false) == nil)
        #expect(rule.observe(Reading(milliUnits: 9_000, at: 3), mayPay: false) == nil)
        #expect(rule.observe(Reading(milliUnits: 9_000, at: 4))?.amount == 9)
    }

    @Test("a rule book resumed from its snapshot behaves exactly like the original")
    func snapshotResume() {
        var book = RuleBook([Self.settings(), .init(id: "power", sensor: "meter-2", recipient: Self.recipient, everyUnits: 1, pricePerUnit: 2, hourlyCap: 50)])
        _ = book.observe(sensor: "meter-1", Reading(milliUnits: -500, at: 1), mayPay: true)
        _ = book.observe(sensor: "meter-1", Reading(milliUnits: 12_300, at: 2), mayPay: true)
        _ = book.observe(sensor: "meter-2", Reading(milliUnits: 100_000, at: 3), mayPay: true)
        _ = book.observe(sensor: "meter-2", Reading(milliUnits: 190_000, at: 4), mayPay: true)
        var resumed = RuleBook(book.rules.map(\.settings), resumingFrom: book.snapshot())
        #expect(resumed == book)
        for t in 5..<50 as Range<UInt64> {
            let reading = Reading(milliUnits: Int64(t) * 7_777, at: t * 600_000)
            #expect(book.observe(sensor: "meter-2", reading, mayPay: true) == resumed.observe(sensor: "meter-2", reading, mayPay: true))
        }
    }
}

@Suite("Batcher")
struct BatcherTests {
    static let transfer = Transfer(to: PerUnitRuleTests.recipient, amount: 5, sensor: "meter-1", reading: 1, at: 1)

    @Test("a batch closes at the transfer limit")
    func byCount() {
        var batcher = Batcher(limits: .init(maxTransfers: 3, maxDelayMilliseconds: 1_000_000))
        #expect(batcher.add(Self.transfer, now: 0) == nil)
        #expect(batcher.add(Self.transfer, now: 0) == nil)
        #expect(batcher.add(Self.transfer, now: 0)?.count == 3)
        #expect(batcher.open.isEmpty)
    }

    @Test("room is judged for the worst case, so batches closed when the room runs out encode within the size limit")
    func bySize() throws {
        var batcher = Batcher(limits: .init(maxTransfers: 1024, maxBytes: 4096, maxDelayMilliseconds: 1_000_000))
        let big = Transfer(to: PerUnitRuleTests.recipient, amount: Amount(UInt64.max), sensor: String(repeating: "s", count: 64), reading: Int64.min, at: UInt64.max)
        #expect(big.encodedSize <= Batcher.maxTransferSize)
        var closed: [[Transfer]] = []
        for _ in 0..<500 {
            if !batcher.hasRoom(forTransfers: 2) { closed.append(batcher.take()) }
            _ = batcher.add(big, now: 0)
            _ = batcher.add(big, now: 0)
        }
        #expect(closed.count > 1)
        for transfers in closed {
            let batch = Batch(network: try NetworkID(String(repeating: "n", count: 32)), seq: UInt64.max, prev: BatchID(BLAKE2b256.hash([1])),
                              created: UInt64.max, fee: 0, transfers: transfers.map { var t = $0; t.amount = 1; return t })
            #expect(try batch.encoded().count <= 4096)
        }
    }

    @Test("a batch closes when its oldest transfer is old enough")
    func byDelay() {
        var batcher = Batcher(limits: .init(maxTransfers: 100, maxDelayMilliseconds: 2000))
        _ = batcher.add(Self.transfer, now: 1000)
        _ = batcher.add(Self.transfer, now: 2500)
        #expect(batcher.tick(now: 2999) == nil)
        #expect(batcher.dueAt == 3000)
        #expect(batcher.tick(now: 3000)?.count == 2)
        #expect(batcher.tick(now: 9999) == nil)
    }
}


import KognitaCore
@testable import KognitaDevnet
import Testing

@Suite("chaos schedule (pure)")
struct ChaosPlanTests {
    /// Runs a plan for `seconds` in steps of 50 ms; validators become ready
    /// `readyAfter` seconds after their restart. Returns every action with its time.
    func simulate(_ plan: inout ChaosPlan, seconds: Double, readyAfter: Double = 3) -> [(Double, ChaosPlan.Action)] {
        var log: [(Double, ChaosPlan.Action)] = []
        var readyAt: [ChaosPlan.Target: Double] = [:]
        var now = 0.0
        while now < seconds {
            for (target, at) in readyAt where at <= now {
                plan.ready(target)
                readyAt[target] = nil
            }
            for action in plan.advance(to: now) {
                log.append((now, action))
                if case .restart(let target) = action {
                    if case .validator = target { readyAt[target] = now + readyAfter } else { readyAt[target] = now + 0.1 }
                }
            }
            now += 0.05
        }
        return log
    }

    @Test("never more than f validators down at once, counting a restarted validator until it is ready")
    func quorumAlwaysReachable() {
        for seed in UInt64(1)...30 {
            for validators in [4, 7] {
                var plan = ChaosPlan(meanInterval: 0.5, validators: validators, bridges: 2, agents: 1, seed: seed)
                let f = (validators - 1) / 3
                var maxDown = 0
                var down: Set<ChaosPlan.Target> = []
                var readyAt: [ChaosPlan.Target: Double] = [:]
                var now = 0.0
                while now < 120 {
                    for (target, at) in readyAt where at <= now { plan.ready(target); readyAt[target] = nil; down.remove(target) }
                    for action in plan.advance(to: now) {
                        switch action {
                        case .kill(let target): if case .validator = target { down.insert(target) }
                        case .restart(let target):
                            if case .validator = target { readyAt[target] = now + 4 } else { readyAt[target] = now + 0.1 }
                        }
                    }
                    maxDown = max(maxDown, down.count)
                    now += 0.05
                }
                #expect(maxDown <= f, "seed \(seed): \(maxDown) validators down of \(validators)")
                #expect(plan.kills["validator", default: 0] > 0, "seed \(seed): no validator was ever killed")
            }
        }
    }

    @Test("kills come every interval +-50%, each kind is hit, and each kill is followed by its restart after the delay")
    func intervalsKindsAndRestarts() {
        var plan = ChaosPlan(meanInterval: 2, restartDelay: 1, validators: 4, bridges: 1, agents: 1, seed: 42)
        let log = simulate(&plan, seconds: 600)
        let kills = log.compactMap { entry -> (Double, ChaosPlan.Target)? in if case .kill(let t) = entry.1 { (entry.0, t) } else { nil } }
        #expect(kills.count > 200 && kills.count < 400, "\(kills.count) kills in 600 s at one per 2 s")
        #expect(Set(kills.map(\.1.kind)) == ["validator", "bridge", "broker", "agent"])
        #expect(plan.totalKills == kills.count)
        for (time, target) in kills where time < 599 {
            let restart = log.first { $0.0 > time && $0.1 == .restart(target) }
            #expect(restart != nil && abs(restart!.0 - time - 1) < 0.11, "\(target) killed at \(time) restarted at \(String(describing: restart?.0))")
        }
        // A kill never hits a component that is down: killed, or restarted and not yet back.
        var killedAt: [ChaosPlan.Target: Double] = [:]
        var restartedAt: [ChaosPlan.Target: Double] = [:]
        for (time, action) in log {
            switch action {
            case .kill(let target):
                if let killed = killedAt[target] {
                    let restarted = restartedAt[target] ?? -1
                    let back = restarted + (target.kind == "validator" ? 3 : 0.1)
                    #expect(restarted > killed && time >= back - 0.001, "\(target) killed at \(time) while down (killed \(killed), restarted \(restarted))")
                }
                killedAt[target] = time
            case .restart(let target): restartedAt[target] = time
            }
        }
    }

    @Test("the same seed gives the same schedule; stop() ends the kills and still restarts what is down")
    func replayAndStop() {
        var a = ChaosPlan(meanInterval: 1, validators: 4, bridges: 1, agents: 2, seed: 9)
        var b = ChaosPlan(meanInterval: 1, validators: 4, bridges: 1, agents: 2, seed: 9)
        let first = simulate(&a, seconds: 60).map { "\($0.0) \($0.1)" }
        #expect(first == simulate(&b, seconds: 60).map { "\($0.0) \($0.1)" })
        var plan = ChaosPlan(meanInterval: 1, restartDelay: 2, validators: 4, bridges: 1, agents: 1, seed: 3)
        var now = 0.0, killed = false
        while !killed {
            killed = plan.advance(to: now).contains { if case .kill = $0 { true } else { false } }
            now += 0.05
        }
        plan.stop()
        var restarted = false
        for step in 0..<100 {
            for action in plan.advance(to: now + Double(step) * 0.05) {
                if case .kill = action { Issue.record("killed after stop") }
                if case .restart(let target) = action { restarted = true; plan.ready(target) }
            }
        }
        #expect(restarted && plan.down.isEmpty)
    }
}

@Suite("meter audit of a real agent's payments")
struct MeterAuditTests {
    let recipient = SigningKey().publicKey

    func pay(_ amount: UInt64, at reading: Int64, sensor: String = "meter-1") -> Transfer {
        Transfer(to: recipient, amount: Amount(amount), sensor: sensor, reading: reading, at: UInt64(reading))
    }

    @Test("payments that cover every unit between the first and last readings pass, whatever the start's fraction")
    func completeSeries() {
        // Start at 300 milli-units: pays at 1,300 (1), 3,800 (2 more: 3,500 counted, 500 carried), 4,300 (1).
        let audit = MeterAudit([pay(1, at: 1_300), pay(2, at: 3_800), pay(1, at: 4_300)])
        #expect(audit.unpaidUnits == 0 && audit.overpaidUnits == 0)
        #expect(audit.expectedUnits == 3 && audit.paidUnits == 3)
    }

    @Test("a payment missing in between is unpaid; a unit paid twice over is overpaid; duplicates of one transfer count once")
    func gapsAndOverpayment() {
        let missing = MeterAudit([pay(1, at: 1_000), pay(5, at: 6_000), pay(5, at: 16_000)])
        #expect(missing.unpaidUnits == 5)
        let over = MeterAudit([pay(1, at: 1_000), pay(4, at: 3_000)])
        #expect(over.overpaidUnits == 1)
        let same = pay(2, at: 3_000)
        let duplicated = MeterAudit([pay(1, at: 1_000), same, same])
        #expect(duplicated.unpaidUnits == 0 && duplicated.overpaidUnits == 0)
    }

    @Test("meters are audited separately")
    func perSensor() {
        let audit = MeterAudit([pay(1, at: 1_000, sensor: "a"), pay(2, at: 3_000, sensor: "a"),
                                pay(1, at: 1_000, sensor: "b"), pay(9, at: 3_000, sensor: "b")])
        #expect(audit.unpaidUnits == 0)
        #expect(audit.overpaidUnits == 6)
    }
}

import Foundation
import KognitaNode
import Testing

/// The whole network's real decision code (``NodeCore``) under a seeded
/// simulation: lossy, reordering, duplicating, partitioned links until
/// they stabilise, a Byzantine validator, an equivocating device, and
/// epochs turning over all along (NetworkSimulation.swift).
@Suite("whole network: deterministic simulation")
struct NetworkSimulationTests {
    /// How many seeded runs `make test` does; `KOGNITA_SIM_RUNS` raises it
    /// for a soak, `KOGNITA_SIM_SEED` replays one run.
    static var runs: Int { Int(ProcessInfo.processInfo.environment["KOGNITA_SIM_RUNS"] ?? "") ?? 1_000 }

    static func seeds(salt: UInt64, count: Int = runs) -> [UInt64] {
        if let replay = ProcessInfo.processInfo.environment["KOGNITA_SIM_SEED"].flatMap(UInt64.init) { return [replay] }
        return (0..<UInt64(count)).map { $0 &* 0x9E37_79B9 &+ salt }
    }

    static func replay(_ seed: UInt64) -> String {
        "replay: SWIFT_DETERMINISTIC_HASHING=1 KOGNITA_SIM_SEED=\(seed) swift test --filter NetworkSimulationTests"
    }

    @Test("with f of 3f+1 validators Byzantine and a device equivocating: never two finals at one (account, seq), every final survives the handovers, one checkpoint chain, money conserved, checkpoints keep coming", arguments: 0..<4)
    func safeAndLive(quarter: Int) {
        var failures: [String] = []
        var withCandidates = 0, changed = 0
        let all = Self.seeds(salt: 11)
        // In four parts, so that both cores work on it.
        for seed in all.count == 1 ? (quarter == 0 ? all : []) : all.enumerated().filter({ $0.offset % 4 == quarter }).map(\.element) {
            var options = NetworkSimulation.Options()
            options.validators = [4, 4, 5, 4, 7][Int(seed % 5)]
            options.byzantine = (options.validators - 1) / 3
            options.partitioned = seed % 3 != 0
            // Most runs change the committee: a candidate joins, then it or a genesis validator leaves.
            options.candidates = seed % 7 == 0 ? 0 : 1
            options.validatorLeaves = (seed / 7) % 2 == 0
            var simulation = NetworkSimulation(seed: seed, options: options)
            let outcome = simulation.run()
            if options.candidates > 0 {
                withCandidates += 1
                if outcome.committeeChanges > 0 { changed += 1 }
            }
            if ProcessInfo.processInfo.environment["KOGNITA_SIM_STATS"] != nil {
                print("seed \(seed) n=\(options.validators)+\(options.candidates) \(outcome.behaviours): \(outcome.checkpoints) checkpoints, committee changed \(outcome.committeeChanges)x, \(outcome.finalsReported) finals, \(outcome.messages) messages, rounds \(outcome.roundMillis) ms")
            }
            if !outcome.violations.isEmpty {
                failures.append("seed \(seed) (\(Self.replay(seed))), behaviours \(outcome.behaviours): \(outcome.violations.prefix(5).joined(separator: "; "))")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) runs failed:\n\(failures.prefix(10).joined(separator: "\n"))")
        // The handovers the runs exercise really move the committee.
        #expect(withCandidates < 4 || changed * 2 >= withCandidates, "the committee changed in only \(changed) of \(withCandidates) runs with a candidate")
    }

    /// Dictionaries iterate in an order seeded per process and per table
    /// unless hashing is deterministic, so the replay holds with it (as
    /// `make test` runs the simulations).
    @Test("a run replays exactly from its seed", .enabled(if: ProcessInfo.processInfo.environment["SWIFT_DETERMINISTIC_HASHING"] != nil))
    func replaysFromSeed() {
        var first = NetworkSimulation(seed: 7), second = NetworkSimulation(seed: 7)
        let a = first.run(), b = second.run()
        #expect(a.messages == b.messages && a.finalsReported == b.finalsReported && a.checkpoints == b.checkpoints)
        #expect(a.finalsReported > 0, "the devices were never paid")
    }
}

/// The figure for docs/PERFORMANCE.md: a 16-validator committee's checkpoint
/// round over 20 ms links in simulated time (deterministic, so not noisy;
/// printed, not asserted: a figure, not a pass/fail threshold).
@Suite("whole network: the 16-validator checkpoint round")
struct SixteenValidatorRoundTests {
    @Test("16 validators on 20 ms links decide every checkpoint, all honest nodes on one chain")
    func sixteenValidators() {
        var options = NetworkSimulation.Options()
        options.validators = 16
        options.byzantine = 0
        options.equivocatingDevices = 0
        options.devices = 4
        options.stabilizeAt = 0
        options.partitioned = false
        options.dropRate = 0
        options.duplicateRate = 0
        options.fixedLatency = 20
        options.epochMillis = 2_000
        options.devicesStopAt = 8_000
        options.horizon = 10_000
        var simulation = NetworkSimulation(seed: 16, options: options)
        let outcome = simulation.run()
        #expect(outcome.violations.isEmpty, "\(outcome.violations.prefix(5))")
        #expect(outcome.checkpoints >= 3)
        let rounds = outcome.roundMillis.sorted()
        print("16 validators, 20 ms links: \(outcome.checkpoints) checkpoints, round from epoch end to the last validator's adoption: \(rounds) ms (median \(rounds.isEmpty ? 0 : rounds[rounds.count / 2]) ms)")
    }
}

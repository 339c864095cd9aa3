import Foundation
import Testing
import KognitaCore
import KognitaLedger

@Suite("checkpoint agreement: deterministic simulation")
struct AgreementSimulationTests {
    /// How many seeded runs of the main scenario `make test` does (about
    /// 0.2 s each in a debug build, most of it signing and verifying);
    /// `KOGNITA_SIM_RUNS` raises it for a soak, `KOGNITA_SIM_SEED` replays
    /// one run, and `KOGNITA_SIM_STATS` prints each run's figures.
    static var runs: Int { Int(ProcessInfo.processInfo.environment["KOGNITA_SIM_RUNS"] ?? "") ?? 1_000 }

    static func seeds(salt: UInt64) -> [UInt64] {
        if let replay = ProcessInfo.processInfo.environment["KOGNITA_SIM_SEED"].flatMap(UInt64.init) { return [replay] }
        return (0..<UInt64(runs)).map { $0 &* 0x9E37_79B9 &+ salt }
    }

    @Test("with f of 3f+1 Byzantine, lossy links and a partition, honest validators decide one valid checkpoint, every run")
    func safeAndLiveUnderFaults() {
        var failures: [String] = []
        var slowest: UInt64 = 0
        for seed in Self.seeds(salt: 1) {
            let size = [4, 4, 5, 7][Int(seed % 4)]
            var options = AgreementSimulation.Options()
            options.validators = size
            options.byzantine = (size - 1) / 3
            options.partitioned = seed % 3 != 0
            var simulation = AgreementSimulation(seed: seed, options: options)
            let outcome = simulation.run()
            if !outcome.violations.isEmpty {
                failures.append("seed \(seed) (replay: KOGNITA_SIM_SEED=\(seed)): \(outcome.violations.joined(separator: "; "))")
            }
            slowest = max(slowest, outcome.decidedAt.values.max() ?? 0)
            if ProcessInfo.processInfo.environment["KOGNITA_SIM_STATS"] != nil { print("seed \(seed) n=\(size) decided at \(outcome.decidedAt.values.max() ?? 0) ms after \(outcome.messages) messages, rounds \(outcome.decisions.values.map(\.round).max() ?? 0)") }
        }
        #expect(failures.isEmpty, "\(failures.count) runs failed:\n\(failures.prefix(10).joined(separator: "\n"))")
    }

    @Test("with more than 2/3 connected and no faults, the checkpoint is decided in round 0")
    func decidesInFirstRoundWhenAllIsWell() {
        for seed in Self.seeds(salt: 2).prefix(200) {
            var options = AgreementSimulation.Options()
            options.validators = 4 + Int(seed % 13)
            options.byzantine = 0
            options.stabilizeAt = 0
            options.partitioned = false
            var simulation = AgreementSimulation(seed: seed, options: options)
            let outcome = simulation.run()
            #expect(outcome.violations.isEmpty, "seed \(seed): \(outcome.violations)")
            #expect(outcome.decisions.values.allSatisfy { $0.round == 0 }, "seed \(seed) needed a second round without faults")
        }
    }

    @Test("a simulation run replays exactly from its seed")
    func replaysFromSeed() {
        var first = AgreementSimulation(seed: 42)
        var second = AgreementSimulation(seed: 42)
        let a = first.run(), b = second.run()
        #expect(a.messages == b.messages)
        #expect(a.decidedAt == b.decidedAt)
        #expect(a.decisions.mapValues(\.header.digest) == b.decisions.mapValues(\.header.digest))
    }

    @Test("more than a third faulty stalls the agreement rather than splitting it")
    func tooManyFaultsStallsButNeverSplits() {
        for seed in Self.seeds(salt: 3).prefix(300) {
            var options = AgreementSimulation.Options()
            options.validators = 4
            options.byzantine = 2
            options.horizon = 8_000
            var simulation = AgreementSimulation(seed: seed, options: options)
            let outcome = simulation.run()
            let digests = Set(outcome.decisions.values.map(\.header.digest))
            #expect(digests.count <= 1, "seed \(seed): honest validators decided different checkpoints")
        }
    }
}

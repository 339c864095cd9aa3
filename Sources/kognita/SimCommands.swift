import ArgumentParser
import Foundation
import KognitaLedger
import KognitaSystem

/// `kognita sim`: simulations that need no network.
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim", abstract: "Simulations of the network's rules (no network needed).", subcommands: [SimGovernanceCommand.self])
}

/// `kognita sim governance`: the economics of ratings, elections and rewards.
struct SimGovernanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "governance",
        abstract: "Simulate ratings, elections and rewards over many epochs and report what each behaviour earns.",
        discussion: """
            Runs the node's own governance rules (docs/ECONOMICS.md) over --epochs epochs with --validators \
            candidates for --seats seats: honest validators, lazy ones that drop 10% of their votes, ones cut off \
            for one epoch in ten, an equivocator, a third of the committee colluding to leave one honest \
            validator's votes out, newcomers registering part-way, and a self-dealing device, bridge and \
            validator. Votes and samples are modelled, not signed. Prints a summary and, with --report, writes \
            every validator's seats, ratings and rewards as JSON. The same --seed gives the same run.
            """)

    @Option(help: "Candidates (at least seats + 12).")
    var validators = 100
    @Option(help: "Committee seats (4 to 64).")
    var seats = 21
    @Option(help: "Epochs to simulate (at least 45: the 30th and 40th are network-wide failures, newcomers arrive from the 20th).")
    var epochs = 50
    @Option(help: "Seed of the run.")
    var seed: UInt64 = 1
    @Option(help: ArgumentHelp("Write the JSON report here.", valueName: "file"))
    var report: String?

    func validate() throws {
        guard (4...64).contains(seats) else { throw CLIError("--seats must be from 4 to 64") }
        guard validators >= seats + 12, validators <= 10_000 else { throw CLIError("--validators must be from seats + 12 (\(seats + 12)) to 10000") }
        guard (45...10_000).contains(epochs) else { throw CLIError("--epochs must be from 45 to 10000") }
    }

    func run() throws {
        var settings = GovernanceSimulation.Settings()
        settings.validators = validators
        settings.seats = seats
        settings.epochs = epochs
        settings.seed = seed
        let result = GovernanceSimulation.run(settings)
        print(Self.summary(result))
        if let report {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(result)
            do throws(FileError) { try FileIO.writeAtomically(Array(data) + [0x0A], to: report, mode: 0o644, replace: true) } catch {
                throw CLIError("cannot write the report to \(report): \(error.message)")
            }
            print("report written to \(report)")
        }
    }

    static func summary(_ report: GovernanceSimulation.Report) -> String {
        let f = report.findings
        let s = report.settings
        func share(_ value: Double) -> String { String(format: "%.1f%%", value * 100) }
        let lazy = f.lazyLongestStay.map(String.init).joined(separator: ", ")
        let waits = f.newcomerWaits.map { $0.map(String.init) ?? "-" }.joined(separator: " ")
        let paid = report.epochs.reduce(UInt64(0)) { $0 + $1.paid }
        var lines = [
            "Kognita governance simulation: \(s.validators) candidates, \(s.seats) seats, \(s.epochs) epochs, seed \(s.seed)",
            "  lazy (drop 10% of votes)     longest stays on the committee: \(lazy) epochs\(f.lazyReturned ? "; one RETURNED while rated out" : "; none returned while rated out")",
            "  cut off 1 epoch in 10        \(f.cutOffVotedOut ? "VOTED OUT" : "never voted out") (lowest rating \(f.cutOffLowestRating))",
            "  equivocator                  slashed: \(f.equivocatorSlashed ? "yes" : "no"), equivocated in epoch \(f.equivocatedAt), off the committee from epoch \(f.equivocatorOutFrom.map(String.init) ?? "never")",
            "  colluding third of reporters cost the honest target \(f.collusionRatingLoss) permille of rating",
            "  newcomers                    seated within 5 epochs: \(share(f.newcomersSeatedWithin5)) (waits: \(waits))",
            "  honest validators' rewards   Gini \(String(format: "%.4f", f.honestRewardGini)) among those seated every epoch",
            "  self-dealing group           paid \(f.selfDealingFees) in fees, got back \(f.selfDealingBridgeIncome) (bridge) + \(f.selfDealingExtraValidatorReward) (validator): net loss \(share(f.selfDealingNetLossShare)) of its fees",
            "  money                        paid to validators \(paid), burned \(report.epochs.last?.burned ?? 0), left in the pool \(report.epochs.last?.pool ?? 0)",
        ]
        let sizes = report.epochs.map(\.committee)
        lines.append("  committee sizes              \(sizes.min() ?? 0) to \(sizes.max() ?? 0); failed epochs (nobody rated): \(report.epochs.filter(\.failed).map(\.epoch))")
        return lines.joined(separator: "\n")
    }
}

import ArgumentParser
import Foundation
import KognitaCore
import KognitaNode

/// `kognita validators`: the candidates, their bonds, ratings, seats and rewards.
struct ValidatorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validators",
        abstract: "List the validator candidates: bond, rating, committee seat and rewards (GET /v1/validators).",
        discussion: """
            A rating is in permille: 1000 is perfect, below 700 a node cannot be elected, a node with no record \
            starts at 750. It comes from the votes other validators received from it (docs/ECONOMICS.md).
            """)

    @OptionGroup var node: NodeOption
    @Flag(name: .long, help: "Print the node's JSON answer.")
    var json = false

    func run() throws {
        let api = try node.api()
        let answer = try blocking { try await api.validators() }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            return print(String(decoding: try encoder.encode(answer), as: UTF8.self))
        }
        print("epoch \(answer.epoch): \(answer.validators.count) candidates, \(answer.validators.filter { $0.weight != nil }.count) on the committee")
        print("node              seat     weight  rating  bond            rewards (last epochs)  measures")
        for entry in answer.validators.sorted(by: { ($0.weight ?? 0, $0.rating) > ($1.weight ?? 0, $1.rating) }) {
            let seat = entry.slashed ? "SLASHED" : entry.weight == nil ? "-" : "sits"
            let rewards = entry.rewards.reduce(UInt64(0)) { $0 + $1.amount }
            let measures = entry.ratingHistory.suffix(5).map { "\($0.measure)" }.joined(separator: " ")
            print(String(entry.node.prefix(16)).padding(toLength: 18, withPad: " ", startingAt: 0)
                  + seat.padding(toLength: 8, withPad: " ", startingAt: 0)
                  + String(entry.weight.map(String.init) ?? "-").leftPadded(7) + "  "
                  + String(entry.rating).leftPadded(6) + "  "
                  + String(entry.bonded).padding(toLength: 16, withPad: " ", startingAt: 0)
                  + "\(rewards) in \(entry.rewards.count) epochs".padding(toLength: 23, withPad: " ", startingAt: 0)
                  + measures)
        }
    }
}

/// `kognita rewards ACCOUNT`: what checkpoints paid an account.
struct RewardsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rewards",
        abstract: "Show what the checkpoints paid an account for validating, epoch by epoch.",
        discussion: """
            Validators are paid at each checkpoint, by weight times how many of their votes reached the others. \
            A bridge's share of each fee is paid with the batch that names it (version-3 batches), so it is in \
            the account's balance, not listed here.
            """)

    @Argument(help: "The account (64 hex digits).")
    var account: String
    @Option(help: "How many of the latest checkpoints to read.")
    var epochs: UInt64 = 100
    @OptionGroup var node: NodeOption

    func run() throws {
        let id: AccountID
        do throws(HexError) { id = try AccountID(hex: account) } catch { throw CLIError("'\(account)' is not an account id (64 hex digits): \(error)") }
        let api = try node.api()
        let wanted = epochs
        let (rows, balance): ([(UInt64, String, UInt64)], UInt64) = try blocking {
            guard let latest = try await api.checkpoint(nil) else { return ([], try await api.account(id).balance) }
            var rows: [(UInt64, String, UInt64)] = []
            let first = latest.epoch >= wanted ? latest.epoch - wanted + 1 : 0
            for epoch in first...latest.epoch {
                guard let checkpoint = try await api.checkpoint(epoch) else { continue }
                for reward in checkpoint.rewards ?? [] where reward.account == id.hex { rows.append((epoch, reward.node, reward.amount)) }
            }
            return (rows, try await api.account(id).balance)
        }
        if rows.isEmpty { print("no validator rewards to \(id.hex) in the last \(wanted) checkpoints") }
        for (epoch, node, amount) in rows { print("epoch \(epoch)  node \(node.prefix(16))  \(amount)") }
        if !rows.isEmpty { print("total \(rows.reduce(UInt64(0)) { $0 + $1.2 }) over \(rows.count) epochs") }
        print("balance now \(balance) (bridge income is paid with each batch and is included)")
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// The operator CLI.
@main
struct Kognita: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kognita",
        abstract: "Kognita operator tool: device keys, signed payment batches, network genesis, accounts, the faucet, stake, validators and checkpoints.",
        discussion: "The wire format is described in docs/PROTOCOL.md.",
        subcommands: [KeygenCommand.self, KeyCommand.self, BatchCommand.self, GenesisCommand.self, AccountCommand.self, FaucetCommand.self, StakeCommand.self, ValidatorCommand.self, CheckpointCommand.self, LoadCommand.self, DeviceCommand.self, DevnetCommand.self, SimCommand.self, ValidatorsCommand.self, RewardsCommand.self]
    )

    /// Runs the command; every failure, including a mistyped argument, is one
    /// line on standard error (usage stays one `--help` away), so scripts and
    /// people both get the problem without a screenful of text.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) } // --help and friends
            let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            let hint = error is CLIError ? "" : " (see --help)"
            let line = Array("Error: \(message)\(hint)\n".utf8)
            _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            Glibc.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}

/// An error the user can fix; printed as one line, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

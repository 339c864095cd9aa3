import ArgumentParser

/// The operator CLI.
@main
struct Kognita: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kognita",
        abstract: "Kognita operator tool: device keys and signed payment batches.",
        discussion: "The wire format is described in docs/PROTOCOL.md.",
        subcommands: [KeygenCommand.self, KeyCommand.self, BatchCommand.self]
    )
}

/// An error the user can fix; printed as one line, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

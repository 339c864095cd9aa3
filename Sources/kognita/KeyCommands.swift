import ArgumentParser
import KognitaCore
import KognitaSystem

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create a new device key and print its device id.",
        discussion: """
            Writes an Ed25519 key in the text format of docs/KEYS.md, atomically \
            (temporary file, fsync, rename) and with mode 0600. The device id \
            (64 hex characters, the public key) is printed on standard output.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Where to write the key file.", valueName: "path"))
    var out: String

    @Flag(name: .long, help: "Replace an existing file at --out.")
    var force = false

    func run() throws {
        let key = SigningKey()
        do throws(FileError) {
            try KeyFile.save(key, to: out, replace: force)
        } catch where error.isAlreadyExists {
            throw CLIError("\(out) already exists; not overwriting it (use --force to replace it)")
        } catch {
            throw CLIError("cannot write the key: \(error)")
        }
        print(key.publicKey.hex)
    }
}

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Inspect device keys.",
        subcommands: [KeyShowCommand.self]
    )
}

struct KeyShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the device id of a key file.",
        discussion: "Refuses a key file that its group or others can read: run 'chmod 600' on it."
    )

    @Argument(help: ArgumentHelp("The key file.", valueName: "path"))
    var path: String

    func run() throws {
        print(try loadKey(path).publicKey.hex)
    }
}

/// Loads a key file, turning its error into a one-line CLI error.
func loadKey(_ path: String) throws -> SigningKey {
    do throws(KeyFileError) { return try KeyFile.load(path) } catch { throw CLIError(error.description) }
}

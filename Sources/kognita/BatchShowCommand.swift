import ArgumentParser
import KognitaCore
import KognitaSystem

struct BatchShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Decode and verify a signed batch, and print what it says.",
        discussion: """
            Checks every rule of the device protocol (docs/PROTOCOL.md) over the \
            bytes as they are: deterministic CBOR, the COSE_Sign1 envelope, the \
            Ed25519 signature and the batch rules. Exits 0 only for a valid \
            batch; otherwise prints the contract's reason and the field at fault \
            and exits 1.
            """
    )

    @Argument(help: ArgumentHelp("The COSE_Sign1 batch file.", valueName: "file"))
    var file: String

    @Flag(name: .long, help: "Print JSON instead of text (also on failure, then with exit status 1).")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Also require the batch to be for this network.", valueName: "net"))
    var network: String?

    func run() throws {
        let expected = try network.map(parseNetwork)
        let bytes = try readBatchFile()
        do throws(ProtocolError) {
            guard let bytes else { throw ProtocolError(.tooLarge, nil, "file is larger than the largest valid envelope (\(ProtocolLimits.maxEnvelopeBytes) bytes)") }
            let signed = try SignedBatch.verify(bytes, expectedNetwork: expected)
            print(json ? BatchReport.json(signed) : BatchReport.text(signed))
        } catch {
            if json { print(BatchReport.json(failure: error)) }
            throw CLIError("\(file) is not a valid batch: \(error)")
        }
    }

    /// Reads the file; nil when it is larger than any valid envelope (which
    /// is then refused as `too-large`, the same answer the network gives).
    private func readBatchFile() throws -> [UInt8]? {
        do throws(FileError) {
            return try FileIO.read(file, maxBytes: ProtocolLimits.maxEnvelopeBytes)
        } catch where error.isTooLarge {
            return nil
        } catch {
            throw CLIError("cannot read the batch: \(error)")
        }
    }
}

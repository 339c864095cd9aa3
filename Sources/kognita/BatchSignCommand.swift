import ArgumentParser
import KognitaCore
import KognitaSystem

struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Sign, inspect and submit payment batches (COSE_Sign1 files).",
        subcommands: [BatchSignCommand.self, BatchShowCommand.self, BatchSubmitCommand.self]
    )
}

struct BatchSignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign one batch and write its COSE_Sign1 bytes.",
        discussion: """
            Each --to adds a transfer: RECIPIENT:AMOUNT[:SENSOR[:READING]], where \
            RECIPIENT is a 64-hex-character account id, AMOUNT a whole number of \
            base units (at least 1), SENSOR an id of at most 64 bytes without ':', \
            and READING the sensor value in its own unit with up to 3 decimals \
            (stored as milli-units: 21.5 becomes 21500). The batch id (BLAKE2b-256 \
            of the payload) is printed on standard output.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The device key file (see 'kognita keygen').", valueName: "path"))
    var key: String

    @Option(name: .long, help: ArgumentHelp("Network id: 1-32 characters of a-z, 0-9 and '-'.", valueName: "net"))
    var network: String

    @Option(name: .long, help: ArgumentHelp("The batch's seq: 1 for the account's first batch, then +1 each.", valueName: "n"))
    var seq: String

    @Option(name: .long, help: ArgumentHelp("Id of the batch at seq-1 (64 hex characters); default 32 zero bytes.", valueName: "hex"))
    var prev: String?

    @Option(name: .long, help: ArgumentHelp("A transfer; repeat for more (1 to 1024).", valueName: "recipient:amount[:sensor[:reading]]"))
    var to: [String] = []

    @Option(name: .long, help: ArgumentHelp("Fee offered for the whole batch, in base units.", valueName: "units"))
    var fee: String = "0"

    @Option(name: .long, help: ArgumentHelp("Creation time in ms since the Unix epoch; default now.", valueName: "ms"))
    var created: String?

    @Option(name: .long, help: ArgumentHelp("Where to write the signed batch.", valueName: "file"))
    var out: String

    @Flag(name: .long, help: "Replace an existing file at --out.")
    var force = false

    func run() throws {
        let signingKey = try loadKey(key)
        let batch = try Batch(
            network: parseNetwork(network),
            seq: parseUInt64(seq, "--seq"),
            prev: prev.map { try parseBatchID($0, "--prev") } ?? .zero,
            created: created.map { try parseUInt64($0, "--created") } ?? currentTimeMilliseconds(),
            fee: Amount(parseUInt64(fee, "--fee")),
            transfers: parseTransfers(to))
        let signed: SignedBatch
        do throws(ProtocolError) { signed = try SignedBatch.sign(batch, with: signingKey) } catch {
            throw CLIError("cannot sign this batch: \(error)")
        }
        do throws(FileError) {
            try FileIO.writeAtomically(signed.envelope, to: out, mode: 0o644, replace: force)
        } catch where error.isAlreadyExists {
            throw CLIError("\(out) already exists; not overwriting it (use --force to replace it)")
        } catch {
            throw CLIError("cannot write the batch: \(error)")
        }
        print(signed.id.hex)
    }

    private func parseTransfers(_ specs: [String]) throws -> [Transfer] {
        guard !specs.isEmpty else { throw CLIError("no transfers: give at least one --to RECIPIENT:AMOUNT") }
        return try specs.enumerated().map { index, spec in
            let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            let name = "--to #\(index + 1) '\(spec)'"
            guard parts.count >= 2 && parts.count <= 4 else {
                throw CLIError("\(name): expected RECIPIENT:AMOUNT[:SENSOR[:READING]] (SENSOR may not contain ':')")
            }
            let recipient: AccountID
            do throws(HexError) { recipient = try AccountID(hex: parts[0]) } catch {
                throw CLIError("\(name): recipient: \(error)")
            }
            let amount = try parseUInt64(parts[1], "\(name): amount")
            guard amount >= 1 else { throw CLIError("\(name): amount must be at least 1 base unit") }
            let sensor = parts.count >= 3 ? parts[2] : nil
            if let sensor, sensor.isEmpty || sensor.utf8.count > ProtocolLimits.maxSensorBytes {
                throw CLIError("\(name): sensor must be 1 to \(ProtocolLimits.maxSensorBytes) bytes")
            }
            let reading = parts.count == 4 ? try parseMilliUnits(parts[3], "\(name): reading") : nil
            return Transfer(to: recipient, amount: Amount(amount), sensor: sensor, reading: reading)
        }
    }
}

func parseNetwork(_ text: String) throws -> NetworkID {
    do throws(ProtocolError) { return try NetworkID(text) } catch { throw CLIError("--network: \(error.message)") }
}

/// Whether `text` is one or more ASCII digits (no sign, no spaces).
func isDigits<Text: StringProtocol>(_ text: Text) -> Bool {
    !text.isEmpty && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
}

func parseUInt64(_ text: String, _ name: String) throws -> UInt64 {
    guard isDigits(text), let value = UInt64(text) else {
        throw CLIError("\(name): '\(text)' is not a whole number from 0 to \(UInt64.max)")
    }
    return value
}

func parseBatchID(_ text: String, _ name: String) throws -> BatchID {
    do throws(HexError) { return try BatchID(hex: text) } catch { throw CLIError("\(name): \(error)") }
}

/// Parses a decimal with at most 3 fractional digits into thousandths.
func parseMilliUnits(_ text: String, _ name: String) throws -> Int64 {
    let bad = CLIError("\(name): '\(text)' is not a number with at most 3 decimals between about -9.2e15 and 9.2e15")
    var body = Substring(text)
    let negative = body.first == "-"
    if negative { body = body.dropFirst() }
    let pieces = body.split(separator: ".", omittingEmptySubsequences: false)
    guard pieces.count <= 2, let whole = pieces.first, isDigits(whole), let wholeValue = Int64(whole) else { throw bad }
    var fraction: Int64 = 0
    if pieces.count == 2 {
        let digits = pieces[1]
        guard isDigits(digits), digits.count <= 3, let value = Int64(digits) else { throw bad }
        fraction = value * [100, 10, 1][digits.count - 1]
    }
    let (scaled, overflow1) = wholeValue.multipliedReportingOverflow(by: 1000)
    let (total, overflow2) = scaled.addingReportingOverflow(fraction)
    guard !overflow1, !overflow2 else { throw bad }
    return negative ? -total : total
}

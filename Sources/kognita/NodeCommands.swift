import ArgumentParser
import Dispatch
import Foundation
import KognitaCore
import KognitaNode
import KognitaSystem

/// `--node URL`, shared by the commands that talk to a node's HTTP API.
struct NodeOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The node's HTTP API (its [api] listen address).", valueName: "url"))
    var node = "http://127.0.0.1:8401"

    func client() throws -> NodeHTTPClient {
        do throws(NodeURLError) { return try NodeHTTPClient(url: node) } catch { throw CLIError(error.description) }
    }

    /// The node's API with typed answers.
    func api() throws -> NodeAPIClient {
        do throws(NodeURLError) { return try NodeAPIClient(url: node) } catch { throw CLIError(error.description) }
    }
}

struct AccountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account", abstract: "Look at accounts on a node.", subcommands: [AccountShowCommand.self])
}

struct AccountShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print an account's next seq, last final batch and balance as a node knows them.")

    @Argument(help: ArgumentHelp("The account id (64 hex characters) or a key file.", valueName: "id"))
    var id: String
    @OptionGroup var node: NodeOption
    @Flag(name: .long, help: "Print the node's JSON.")
    var json = false

    func run() throws {
        let account = try accountID(id)
        let api = try node.api()
        let path = "/v1/accounts/\(account.hex)"
        let (response, head) = try blocking {
            let response = try await api.http.request(.GET, path)
            return (response, try api.decode(AccountResponse.self, response, path))
        }
        if json { return print(response.text, terminator: "") }
        print("account    \(head.account)")
        print("balance    \(head.balance)")
        print("next seq   \(head.nextSeq)")
        print("last final \(head.lastFinal)")
    }
}

struct BatchSubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a signed batch to a node.",
        discussion: "Prints the node's answer: accepted, final (with --wait), or rejected with the contract's reason; exits 1 when rejected.")

    @Argument(help: ArgumentHelp("The COSE_Sign1 batch file (from 'kognita batch sign').", valueName: "file"))
    var file: String
    @OptionGroup var node: NodeOption
    @Flag(name: .long, help: "Wait until the batch is final (or rejected).")
    var wait = false
    @Flag(name: .long, help: "Print the node's JSON.")
    var json = false

    func run() throws {
        let bytes: [UInt8]
        do throws(FileError) { bytes = try FileIO.read(file, maxBytes: ProtocolLimits.maxEnvelopeBytes + 1) } catch {
            throw CLIError("cannot read the batch: \(error.message)")
        }
        let api = try node.api()
        let path = wait ? "/v1/batches?wait=final" : "/v1/batches"
        let (response, ack) = try blocking {
            let response = try await api.http.request(.POST, path, body: bytes, contentType: "application/cose")
            return (response, try api.submitAnswer(response, path))
        }
        if json { print(response.text, terminator: "") }
        if ack.status == "rejected" {
            throw CLIError("rejected: \(ack.error ?? "error"): \(ack.detail ?? "")")
        }
        if !json {
            print("\(ack.status) \(ack.id ?? "") seq \(ack.seq.map(String.init) ?? "?")")
            if let detail = ack.detail { print(detail) }
        }
    }
}

struct FaucetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faucet",
        abstract: "Fund an account from a test network's faucet (a real transfer, final when this returns).",
        discussion: "Only the node whose node.toml has [faucet] key serves the faucet (validator-1 of a 'kognita genesis new' network).")

    @Argument(help: ArgumentHelp("The account id (64 hex characters) or a key file.", valueName: "id"))
    var id: String
    @Argument(help: ArgumentHelp("Base units to send (at least 1).", valueName: "amount"))
    var amount: UInt64
    @OptionGroup var node: NodeOption

    func run() throws {
        guard amount >= 1, amount <= UInt64(Int64.max) else { throw CLIError("the amount must be from 1 to \(Int64.max)") }
        let account = try accountID(id)
        let api = try node.api()
        let ack = try blocking { try await api.faucet(account, amount: amount) }
        guard ack.status == "final" else {
            throw CLIError("the faucet's payment is \(ack.status)\(ack.error.map { ": \($0)" } ?? "")\(ack.detail.map { ": \($0)" } ?? "")")
        }
        print("final: \(amount) to \(account.hex) in batch \(ack.id ?? "?")")
    }
}

/// An account id given as hex or as a key file (whose id is used).
func accountID(_ text: String) throws -> AccountID {
    if let id = try? AccountID(hex: text) { return id }
    do throws(KeyFileError) { return try KeyFile.load(text).publicKey } catch {
        throw CLIError("\(text) is neither an account id (64 hex characters) nor a readable key file: \(error)")
    }
}

/// Runs async work from a synchronous command and waits for it.
func blocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>(), done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await work()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    do { return try box.result!.get() } catch let error as NodeURLError { throw CLIError(error.description) } catch let error as NodeAPIError {
        throw CLIError(error.description)
    }
}

/// Carries a result from the task to the waiting thread (the semaphore orders the accesses).
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

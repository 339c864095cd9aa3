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
        let client = try node.client()
        let response = try blocking { try await client.request(.GET, "/v1/accounts/\(account.hex)") }
        let object = try expectJSON(response, from: node.node)
        if json { return print(response.text, terminator: "") }
        print("account    \(object["account"] as? String ?? account.hex)")
        print("balance    \(object["balance"] ?? "?")")
        print("next seq   \(object["next_seq"] ?? "?")")
        print("last final \(object["last_final"] ?? "?")")
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
        let client = try node.client()
        let path = wait ? "/v1/batches?wait=final" : "/v1/batches"
        let response = try blocking { try await client.request(.POST, path, body: bytes, contentType: "application/cose") }
        let object = try expectJSON(response, from: node.node, allowErrors: true)
        if json { print(response.text, terminator: "") }
        let status = object["status"] as? String
        if status == nil || status == "rejected" {
            let reason = object["error"] as? String ?? "error"
            throw CLIError("rejected: \(reason): \(object["detail"] as? String ?? "")")
        }
        if !json {
            print("\(status!) \(object["id"] as? String ?? "") seq \(object["seq"] ?? "?")")
            if let detail = object["detail"] as? String { print(detail) }
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
        let client = try node.client()
        let body = Array("{\"account\":\"\(account.hex)\",\"amount\":\(amount)}".utf8)
        let response = try blocking { try await client.request(.POST, "/v1/faucet", body: body, contentType: "application/json") }
        let object = try expectJSON(response, from: node.node)
        print("final: \(amount) to \(account.hex) in batch \(object["id"] as? String ?? "?")")
    }
}

/// An account id given as hex or as a key file (whose id is used).
func accountID(_ text: String) throws -> AccountID {
    if let id = try? AccountID(hex: text) { return id }
    do throws(KeyFileError) { return try KeyFile.load(text).publicKey } catch {
        throw CLIError("\(text) is neither an account id (64 hex characters) nor a readable key file: \(error)")
    }
}

/// The response's JSON object; a clear error for a node error or a non-JSON answer.
func expectJSON(_ response: NodeHTTPClient.Response, from url: String, allowErrors: Bool = false) throws -> [String: Any] {
    guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
        throw CLIError("\(url) answered HTTP \(response.status) with something that is not JSON; is it a Kognita node?")
    }
    if !allowErrors, response.status >= 400 {
        throw CLIError("\(object["error"] as? String ?? "HTTP \(response.status)"): \(object["detail"] as? String ?? response.text)")
    }
    return object
}

/// Runs async work from a synchronous command and waits for it.
func blocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>(), done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await work()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    do { return try box.result!.get() } catch let error as NodeURLError { throw CLIError(error.description) }
}

/// Carries a result from the task to the waiting thread (the semaphore orders the accesses).
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

import Foundation

/// Why a devnet could not be made, started or checked: what went wrong and
/// what to do, in one message.
public struct DevnetError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a helper program (mosquitto_passwd, openssl through the broker
/// script) to completion; its error output becomes the error, with `hint`.
public func runTool(_ tool: String, _ arguments: [String], hint: String) throws(DevnetError) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    process.standardOutput = FileHandle.nullDevice
    let errors = Pipe()
    process.standardError = errors
    do { try process.run() } catch { throw DevnetError("cannot run \(tool): \(error); \(hint)") }
    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw DevnetError("\(tool) failed (exit \(process.terminationStatus)): \(message.split(separator: "\n").first ?? ""); \(hint)")
    }
}

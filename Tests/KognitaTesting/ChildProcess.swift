import Foundation

/// Runs a program to completion and captures its output.
public enum ChildProcess {
    /// What a finished program left behind.
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs `executable` with `arguments`; standard input is empty unless given.
    ///
    /// The waiting happens on a thread of its own. Swift Testing runs the
    /// tests on the cooperative pool, one thread per core: a test that waited
    /// there for a 30-second devnet held one of two threads, and with two such
    /// waits every other test's requests stalled until their timeouts fired
    /// ('I/O on closed channel' in a full run, never in a test run alone).
    public static func run(_ executable: String, _ arguments: [String], currentDirectory: String? = nil,
                           environment: [String: String]? = nil, stdin: Data? = nil) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Swift.Result {
                    try runBlocking(executable, arguments, currentDirectory: currentDirectory, environment: environment, stdin: stdin)
                })
            }.start()
        }
    }

    /// ``run(_:_:currentDirectory:environment:stdin:)`` for a caller that is
    /// not async (a static initialiser); it blocks the calling thread.
    public static func runBlocking(_ executable: String, _ arguments: [String], currentDirectory: String? = nil,
                                   environment: [String: String]? = nil, stdin: Data? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        // Read both pipes while the child runs, so a full pipe cannot block it.
        let group = DispatchGroup()
        nonisolated(unsafe) var stdoutData = Data(), stderrData = Data()
        DispatchQueue.global().async(group: group) { stdoutData = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { stderrData = err.fileHandleForReading.readDataToEndOfFile() }
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: stdoutData, as: UTF8.self),
                      stderr: String(decoding: stderrData, as: UTF8.self))
    }
}

/// The Python interpreter for the independent cross-checks (pynacl, cbor2,
/// pycose), prepared by `make setup` in `.build-venv`, or named by
/// `KOGNITA_PYTHON`. Nil, with the reason, when it is not usable.
public enum PythonTooling {
    public static let interpreter: Result<String, TestSupportError> = {
        let candidate = ProcessInfo.processInfo.environment["KOGNITA_PYTHON"] ?? Repository.path(".build-venv/bin/python")
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            return .failure(TestSupportError("no Python at \(candidate): run 'make setup' (or set KOGNITA_PYTHON) to enable the cross-checks"))
        }
        guard let probe = try? ChildProcess.runBlocking(candidate, ["-c", "import nacl, cbor2, pycose, paho.mqtt"]), probe.status == 0 else {
            return .failure(TestSupportError("\(candidate) lacks pynacl, cbor2, pycose or paho-mqtt: run 'make setup' to enable the cross-checks"))
        }
        return .success(candidate)
    }()

    /// Whether the cross-checks run. With KOGNITA_REQUIRE_INTEROP=1 (set by
    /// `make test` and CI) they are never skipped: missing tooling fails them.
    public static var isAvailable: Bool {
        if ProcessInfo.processInfo.environment["KOGNITA_REQUIRE_INTEROP"] == "1" { return true }
        if case .success = interpreter { return true } else { return false }
    }

    /// Runs a Python script of the repository with the prepared interpreter.
    public static func run(_ script: String, _ arguments: [String]) async throws -> ChildProcess.Result {
        try await ChildProcess.run(try interpreter.get(), [Repository.path(script)] + arguments)
    }
}

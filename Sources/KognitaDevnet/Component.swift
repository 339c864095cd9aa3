import Foundation
import KognitaSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One process of the devnet (a node, a bridge, the broker, a real agent):
/// how to start it, the process now running, and its CPU time and peak
/// memory over every incarnation (a crash drill kills and restarts it).
public final class Component: Sendable {
    /// What the process is.
    public enum Kind: String, Sendable { case node, bridge, broker, agent }

    public let name: String
    public let kind: Kind
    let executable: String
    let arguments: [String]
    public let logFile: String

    private struct State {
        var process: SpawnedProcess?
        var pastCPUSeconds = 0.0
        var peakResidentBytes = 0
        var starts = 0
    }
    private let state = Mutex(State())

    init(name: String, kind: Kind, executable: String, arguments: [String], logFile: String) {
        self.name = name
        self.kind = kind
        self.executable = executable
        self.arguments = arguments
        self.logFile = logFile
    }

    /// Starts it (again, after a stop or a kill). Does nothing while it runs:
    /// two processes of one component would share its port or its files.
    public func start() throws {
        guard !isRunning else { return }
        let process: SpawnedProcess
        // Nodes and bridges exit if this process dies without stopping them.
        let environment = ParentWatch.childEnvironment(ProcessInfo.processInfo.environment)
        do { process = try SpawnedProcess(executable, arguments, logFile: logFile, environment: environment) } catch {
            throw DevnetError("cannot start \(name): \(error); is \(executable) built? (make devnet builds it)")
        }
        state.withLock { state in
            state.starts += 1
            retire(&state)
            state.process = process
        }
    }

    /// Stops it with `signal` (SIGTERM: cleanly; SIGKILL: a crash), waiting up
    /// to `timeout` seconds before SIGKILL; returns its exit code (nil when a
    /// signal ended it or it was not running).
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Double = 10) -> Int32? {
        let process = state.withLock { $0.process }
        process?.stop(signal: signal, timeout: timeout)
        state.withLock { state in
            retire(&state)
            state.process = nil
        }
        return process?.exitCode
    }

    /// Folds the current process's usage into the totals once it has exited.
    private func retire(_ state: inout State) {
        guard let process = state.process, !process.isRunning else { return }
        state.pastCPUSeconds += process.cpuSeconds
        state.peakResidentBytes = max(state.peakResidentBytes, process.peakResidentBytes)
        state.process = nil
    }

    public var isRunning: Bool { state.withLock { $0.process?.isRunning ?? false } }

    /// How the last process ended, for a message ("exit 1", "signal 9").
    var exitDescription: String {
        guard let process = state.withLock({ $0.process }) else { return "stopped" }
        if process.isRunning { return "running" }
        if let code = process.exitCode { return "exit \(code)" }
        return "signal \(process.terminatingSignal ?? 0)"
    }

    /// CPU seconds over every incarnation so far.
    var cpuSeconds: Double { state.withLock { $0.pastCPUSeconds + ($0.process?.cpuSeconds ?? 0) } }

    /// Peak resident bytes over every incarnation so far.
    var peakResidentBytes: Int { state.withLock { max($0.peakResidentBytes, $0.process?.peakResidentBytes ?? 0) } }

    /// Current resident bytes (0 when not running).
    var residentBytes: Int { state.withLock { $0.process.flatMap { ProcStat.residentBytes(of: $0.pid) } ?? 0 } }

    /// Starts after the first (a crash drill's restart, a real agent's drain restart).
    var restarts: Int { state.withLock { max(0, $0.starts - 1) } }

    /// The last `count` bytes of its log, for an error message.
    public func logTail(_ count: Int = 1500) -> String {
        let text = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        return String(text.suffix(count))
    }
}

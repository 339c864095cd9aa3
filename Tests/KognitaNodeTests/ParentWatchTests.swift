import Foundation
import KognitaSystem
import KognitaTesting
import Testing

/// A node started by a devnet or a test that dies without stopping it exits
/// on its own (KOGNITA_PARENT_PID), instead of running on the machine.
@Suite("Orphaned nodes exit", .serialized)
struct ParentWatchTests {
    /// Starts a node from a short-lived shell (its parent), with or without the
    /// variable; returns the node's pid once the shell is gone.
    func orphan(watch: Bool, in dir: String) async throws -> pid_t {
        let kognita = try Repository.builtProduct("kognita"), node = try Repository.builtProduct("kognita-node")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let made = try await ChildProcess.run(kognita, ["genesis", "new", "--network", "orphan", "--validators", "1", "--out", "\(dir)/net",
                                                        "--base-port", "\(try FreePort.find())", "--api-base-port", "\(try FreePort.find())"])
        try #require(made.status == 0, "\(made.stderr)")
        // The intermediate shell is started with posix_spawn and reaped here:
        // Foundation's Process missed this shell's exit and hung (its pid
        // file is how the node's pid comes back).
        let variable = watch ? "KOGNITA_PARENT_PID=$$ " : ""
        let shell = try SpawnedProcess("/bin/bash", ["-c", "\(variable)\(node) --config \(dir)/net/validator-1/node.toml > \(dir)/node.log 2>&1 & echo $! > \(dir)/node.pid; sleep 1"])
        let deadline = Date().addingTimeInterval(20)
        while shell.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        try #require(!shell.isRunning, "the intermediate shell did not exit")
        let written = try String(contentsOfFile: "\(dir)/node.pid", encoding: .utf8)
        return try #require(pid_t(written.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// Alive and not a zombie: an orphan's exit is reaped by pid 1, which in
    /// some sandboxes never reaps, and `kill(pid, 0)` succeeds on a zombie.
    func running(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    @Test("with KOGNITA_PARENT_PID set, a node whose parent died exits within seconds; without it, it keeps running")
    func orphanedNodeExits() async throws {
        try await TemporaryDirectory.with { dir in
            let watched = try await orphan(watch: true, in: "\(dir)/a")
            defer { if running(watched) { kill(watched, SIGKILL) } }
            let unwatched = try await orphan(watch: false, in: "\(dir)/b")
            defer { if running(unwatched) { kill(unwatched, SIGKILL) } }
            let deadline = Date().addingTimeInterval(10)
            while running(watched) && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(!running(watched), "the orphaned node with KOGNITA_PARENT_PID still runs")
            #expect(running(unwatched), "a node without the variable must not exit with its parent")
        }
    }
}

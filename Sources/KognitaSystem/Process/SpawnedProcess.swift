#if canImport(Glibc)
import Glibc
#endif

/// A child process cannot be started or found; the description says why.
public struct ProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A child process started with posix_spawn and reaped with wait4, so its exit
/// is known exactly, it can be killed with any signal (SIGKILL included), and
/// its CPU time is known after it exits (from the kernel's own accounting,
/// `struct rusage`) and while it runs (from /proc). Its peak memory comes from
/// /proc only (see ``peakResidentBytes``).
public final class SpawnedProcess: @unchecked Sendable {
    // @unchecked: the mutable fields are touched under `lock` only.
    public let pid: pid_t
    private var exitStatus: Int32?
    private var finalUsage: rusage?
    /// The largest VmHWM read while it ran.
    private var sampledPeakBytes = 0
    private var lock = pthread_mutex_t()

    /// Starts `executable` with `arguments`; output goes to `logFile`
    /// (appended) or nowhere. `environment` replaces this process's when given.
    public init(_ executable: String, _ arguments: [String], logFile: String? = nil, environment: [String: String]? = nil) throws {
        pthread_mutex_init(&lock, nil)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let output = logFile ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let env: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { env?.forEach { free($0) } }
        // The child must not inherit this process's blocked signals (the Swift
        // runtime's threads block SIGTERM), or a SIGTERM would never reach it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid = pid_t()
        let rc = env.map { env in env.withUnsafeBufferPointer { posix_spawn(&pid, executable, &actions, &attributes, argv, $0.baseAddress) } }
            ?? posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw ProcessError("cannot start \(executable): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    /// The exit code once it has exited normally; nil while it runs or when a signal ended it.
    public var exitCode: Int32? {
        guard !isRunning, let status = locked({ exitStatus }), status & 0x7f == 0 else { return nil }
        return (status >> 8) & 0xff
    }

    /// The signal that ended it, if one did.
    public var terminatingSignal: Int32? {
        guard !isRunning, let status = locked({ exitStatus }), status & 0x7f != 0 else { return nil }
        return status & 0x7f
    }

    /// Whether it is still running (reaps it if it has exited).
    public var isRunning: Bool { locked { reap(blocking: false) } }

    /// CPU seconds (user + system) it has used so far.
    public var cpuSeconds: Double {
        locked {
            if let usage = finalUsage { return Self.seconds(usage.ru_utime) + Self.seconds(usage.ru_stime) }
            return ProcStat.cpuSeconds(of: pid) ?? 0
        }
    }

    /// Its peak resident memory so far, in bytes: the largest VmHWM read
    /// while it ran (read on every look at it, ``isRunning`` included, so
    /// the last one comes just before it is reaped).
    ///
    /// Not `ru_maxrss`: posix_spawn's child shares this process's memory
    /// until its exec, and the kernel carries that high-water mark into the
    /// child's, so a small program started from a large one would report the
    /// large one's peak (a 1 MiB `true` started from a 200 MiB process says
    /// 213 MiB). Only for a child that exited before it was ever looked at is
    /// `ru_maxrss` the figure given, as no better one exists.
    public var peakResidentBytes: Int {
        locked {
            sampleIfRunning()
            if sampledPeakBytes == 0, let usage = finalUsage { return Int(usage.ru_maxrss) * 1024 }
            return sampledPeakBytes
        }
    }

    /// Sends `signal` and waits up to `timeout` seconds for the exit; SIGKILL after that.
    public func stop(signal: Int32 = SIGTERM, timeout: Double = 5) {
        guard isRunning else { return }
        kill(pid, signal)
        let deadline = Monotonic.seconds() + timeout
        while isRunning && Monotonic.seconds() < deadline { usleep(10_000) }
        if isRunning {
            kill(pid, SIGKILL)
            locked { _ = reap(blocking: true) }
        }
    }

    /// Reaps the child if it has exited (or waits for it); returns whether it still runs.
    private func reap(blocking: Bool) -> Bool {
        if exitStatus != nil { return false }
        sampleIfRunning() // /proc forgets the peak once the child has exited
        var status: Int32 = 0
        var usage = rusage()
        let rc = wait4(pid, &status, blocking ? 0 : WNOHANG, &usage)
        if rc == pid {
            exitStatus = status
            finalUsage = usage
            return false
        }
        if rc < 0 { exitStatus = 0x7f; return false } // not our child any more: treat as gone
        return true
    }

    private func sampleIfRunning() {
        guard exitStatus == nil, let peak = ProcStat.peakResidentBytes(of: pid) else { return }
        sampledPeakBytes = max(sampledPeakBytes, peak)
    }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }

    private static func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }

    deinit {
        stop(signal: SIGKILL, timeout: 1)
        pthread_mutex_destroy(&lock)
    }
}

/// A process's CPU time and memory from /proc (Linux).
public enum ProcStat {
    /// User + system CPU seconds of `pid` (this process when nil).
    public static func cpuSeconds(of pid: pid_t? = nil) -> Double? {
        guard let text = read("/proc/\(pid.map(String.init) ?? "self")/stat"),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (user + system) / ticks
    }

    /// Peak resident bytes (VmHWM) of `pid` (this process when nil).
    public static func peakResidentBytes(of pid: pid_t? = nil) -> Int? {
        field("VmHWM:", of: pid)
    }

    /// Current resident bytes (VmRSS) of `pid` (this process when nil).
    public static func residentBytes(of pid: pid_t? = nil) -> Int? {
        field("VmRSS:", of: pid)
    }

    private static func field(_ name: String, of pid: pid_t?) -> Int? {
        guard let text = read("/proc/\(pid.map(String.init) ?? "self")/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kilobytes = Int(parts[1]) { return kilobytes * 1024 }
        }
        return nil
    }

    private static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

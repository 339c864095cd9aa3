#if canImport(Glibc)
import Glibc
#endif

/// Ends this process when the process that started it dies, if that
/// process asked for it by setting `KOGNITA_PARENT_PID` to its own pid
/// (the devnet and the tests do, for every node and bridge they start).
/// Without it, a devnet or test run that crashes, and so never stops its
/// children, would leave nodes running on the machine; with it they exit
/// within half a second of being orphaned. Unset, nothing happens.
public enum ParentWatch {
    /// The environment variable that names the parent to outlive no longer.
    public static let variable = "KOGNITA_PARENT_PID"

    /// Starts the watch (a small thread polling `getppid`) when the variable names this process's parent.
    public static func exitWhenOrphaned() {
        guard let value = getenv(variable), let parent = pid_t(String(cString: value)), parent > 1, getppid() == parent else { return }
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { _ in
            let parent = pid_t(String(cString: getenv(ParentWatch.variable))) ?? 0
            while getppid() == parent { usleep(500_000) }
            let line = Array("the process that started this one (pid \(parent)) has gone; exiting (\(ParentWatch.variable))\n".utf8)
            _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            _exit(70)
        }, nil)
        if started == 0 { pthread_detach(thread) }
    }

    /// This process's environment plus the variable naming this process, for a child that should not outlive it.
    public static func childEnvironment(_ base: [String: String]) -> [String: String] {
        var environment = base
        environment[variable] = String(getpid())
        return environment
    }
}

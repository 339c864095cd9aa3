import CMosquitto
import KognitaSystem
#if canImport(Glibc)
import Glibc
#endif

/// A dedicated OS thread for blocking work (libmosquitto's network loop),
/// so it never occupies a thread of Swift's cooperative pool.
enum NetworkThread {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new detached thread, with every signal blocked:
    /// process signals (SIGTERM for a clean stop) must reach the thread that
    /// waits for them. A thread with SIGTERM unblocked, while the process has
    /// it ignored for a dispatch signal source, would swallow it.
    static func start(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var all = sigset_t(), previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(rc == 0, "cannot start the MQTT network thread: pthread_create returned \(rc)")
        pthread_detach(thread)
    }
}

/// A wake-up call for a thread that polls: one eventfd that other threads
/// (or a signal handler: write(2) is async-signal-safe) signal, and that the
/// thread polls together with its other descriptors. The MQTT network
/// thread waits on one; so does the agent's loop.
public final class Wakeup: @unchecked Sendable {
    // @unchecked: the descriptor is fixed at init; eventfd is thread-safe.
    public let fd: Int32

    public init() {
        fd = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        precondition(fd >= 0, "cannot create an eventfd: errno \(errno)")
    }

    /// Wakes the thread's current or next wait.
    public func signal() {
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    /// Waits up to `seconds` for a signal; returns whether one came (and clears it).
    @discardableResult
    public func wait(seconds: Double) -> Bool {
        // A signal (a second Ctrl-C) interrupts poll: wait out the rest.
        let deadline = Monotonic.seconds() + max(0, min(seconds, 3600))
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = deadline - Monotonic.seconds()
            let ready = poll(&pfd, 1, Int32(max(0, left) * 1000))
            if ready > 0 { clear(); return true }
            if ready == 0 || errno != EINTR || left <= 0 { return false }
        }
    }

    /// Clears a signal without waiting.
    public func clear() {
        var count: UInt64 = 0
        _ = read(fd, &count, 8)
    }

    deinit { close(fd) }
}

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

/// A sleep that another thread can cut short (a pipe that is written to).
final class InterruptibleSleep: @unchecked Sendable {
    private var fds: [Int32] = [-1, -1]

    init() {
        let rc = pipe(&fds)
        precondition(rc == 0, "cannot create a pipe: errno \(errno)")
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
    }

    /// Sleeps up to `seconds`; returns early once ``interrupt()`` was called.
    func sleep(seconds: Double) {
        var pfd = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        _ = poll(&pfd, 1, Int32(max(0, min(seconds, 3600)) * 1000))
    }

    /// Wakes any current and every later ``sleep(seconds:)`` at once.
    func interrupt() {
        var byte: UInt8 = 1
        _ = write(fds[1], &byte, 1)
    }

    deinit {
        close(fds[0])
        close(fds[1])
    }
}

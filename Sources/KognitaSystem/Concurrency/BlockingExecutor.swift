#if !KOGNITA_EMBEDDED
#if canImport(Glibc)
import Glibc
#endif

/// Threads of our own for work that blocks (fsync, SQLite, a sensor read),
/// as a Swift `TaskExecutor`.
///
/// Swift concurrency runs every task on a cooperative pool of one thread per
/// core: on a 2-core machine, two threads. A task that blocks in fsync holds
/// one of them, and every other task in the process waits. Tasks that block
/// run with this executor as their preference (`withTaskExecutorPreference`
/// or `Task(executorPreference:)`), so their nonisolated code, including every
/// synchronous call that blocks, runs on its threads: the devnet's simulated
/// devices, and the node's store reads.
public final class BlockingExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: all mutable state is in `queue`, which locks.
    private let queue: JobQueue

    /// Starts `threads` threads named `name` (visible in `top -H` and perf).
    /// They keep the executor alive until ``shutdown()``.
    public init(name: String, threads: Int) {
        precondition(threads >= 1, "an executor needs a thread")
        queue = JobQueue()
        for index in 0..<threads {
            let queue = self.queue
            ExecutorThread.start(name: threads == 1 ? name : "\(name)-\(index)") { [self] in
                while let job = queue.next() { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
            }
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) { queue.push(UnownedJob(job)) }

    /// Ends the threads once the queued jobs have run. Jobs enqueued after
    /// this are never run: shut down only when nothing uses it any more.
    public func shutdown() { queue.close() }
}

/// A first-in first-out queue of jobs that threads wait on.
final class JobQueue: @unchecked Sendable {
    // @unchecked: every field is touched only with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let ready = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs: [UnownedJob] = []
    /// Index of the next job in `jobs` (removing from the front one at a time is linear).
    private var head = 0
    private var closed = false
    private var waiting = 0

    init() {
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        ready.initialize(to: pthread_cond_t())
        pthread_cond_init(ready, nil)
    }

    deinit {
        pthread_cond_destroy(ready)
        pthread_mutex_destroy(mutex)
        ready.deallocate()
        mutex.deallocate()
    }

    func push(_ job: UnownedJob) {
        pthread_mutex_lock(mutex)
        jobs.append(job)
        let wake = waiting > 0
        pthread_mutex_unlock(mutex)
        if wake { pthread_cond_signal(ready) }
    }

    /// The next job, waiting for one; nil once closed and empty.
    func next() -> UnownedJob? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while head == jobs.count {
            if closed { return nil }
            waiting += 1
            pthread_cond_wait(ready, mutex)
            waiting -= 1
        }
        let job = jobs[head]
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_mutex_unlock(mutex)
        pthread_cond_broadcast(ready)
    }
}

/// Starts detached pthreads running a closure (Foundation's Thread is not
/// available to every module that uses these executors).
enum ExecutorThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    static func start(name: String, _ run: @escaping () -> Void) {
        let body = Unmanaged.passRetained(Body {
            setName(name)
            run()
        }).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { argument in
            let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
            body.run()
            return nil
        }, body)
        precondition(rc == 0, "cannot start a thread for \(name): \(String(cString: strerror(rc)))")
        pthread_detach(thread)
    }

    /// Names the calling thread (seen in `top -H` and perf); pthread_setname_np
    /// is not visible to Swift, so through /proc. Linux keeps 15 bytes.
    private static func setName(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}
#endif

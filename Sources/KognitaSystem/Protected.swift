#if canImport(Glibc)
import Glibc
#endif

/// A value guarded by a pthread mutex, shared between threads.
///
/// `Synchronization.Mutex` would do, but the embedded build of the agent has
/// no Mutex (its Synchronization module has atomics only), and the MQTT
/// client is compiled in both.
public final class Protected<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched while `mutex` is held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock; keep it short and never
    /// block in it. Not reentrant: `body` must not call `withLock` on the same value.
    public func withLock<Result>(_ body: (inout Value) throws(Never) -> Result) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body(&value)
    }
}

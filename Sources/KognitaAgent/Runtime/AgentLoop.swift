import KognitaMQTT
import KognitaSystem
#if canImport(Glibc)
import Glibc
#endif

/// The descriptor the signal handler writes to (the loop's ``Wakeup``; write(2)
/// is async-signal-safe). A C signal handler cannot capture, hence a global.
nonisolated(unsafe) private var signalWakeup: Int32 = -1

/// Runs one agent on the calling thread, the way the `kognita-agent`
/// program does (in both its builds): a poll(2) loop over the MQTT client's
/// inbox and an eventfd that SIGTERM and SIGINT write to, with a tick every 100 ms.
/// No Swift concurrency, so the embedded build (which has none to speak of)
/// runs exactly this code, and the program's resident memory stays small.
/// The behaviour is ``AgentCore``'s.
public final class AgentLoop {
    /// The tick period: how often sensors due are read and timers checked.
    static let tickMilliseconds: UInt64 = 100

    private let core: AgentCore
    private let inbox: MQTTInbox
    private let signals = Wakeup()

    /// Makes SIGTERM and SIGINT wake the loop (which then stops cleanly);
    /// loads the key, opens the spool and prepares the MQTT client. One per
    /// process: the signal handlers are the process's.
    public init(_ configuration: AgentConfiguration) throws(AgentError) {
        signalWakeup = signals.fd
        // The MQTT client's thread blocks every signal, so they land here.
        for number in [SIGTERM, SIGINT] {
            signal(number) { _ in
                var one: UInt64 = 1
                _ = write(signalWakeup, &one, 8)
            }
        }
        inbox = MQTTInbox(capacity: configuration.broker.inboundBufferSize)
        core = try AgentCore(configuration, inbox: inbox)
    }

    deinit {
        // The handlers must not outlive the descriptor they write to.
        signalWakeup = -1
        signal(SIGTERM, nil) // nil is SIG_DFL
        signal(SIGINT, nil)
    }

    /// Runs until SIGTERM or SIGINT; then closes and spools the open batch,
    /// disconnects, and returns.
    public func run() throws(AgentError) {
        core.start()
        var nextTick: UInt64 = 0
        while true {
            let now = currentMilliseconds()
            // A wall clock set back must not stall the ticks for that long.
            // (The core schedules on the wall clock too, so a backward jump
            // still delays sensor polls and resends by its size; moving the
            // core's deadlines to a monotonic clock is separate work.)
            if nextTick > now + Self.tickMilliseconds { nextTick = now }
            let wait = nextTick > now ? Int32(nextTick - now) : 0
            var fds = [pollfd(fd: inbox.fd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, wait) < 0 && errno != EINTR {
                throw AgentError("poll failed: \(String(cString: strerror(errno)))")
            }
            let after = currentMilliseconds()
            if fds[1].revents != 0 {
                signals.clear()
                try core.shutdown(now: after)
                return
            }
            if fds[0].revents != 0 {
                for item in inbox.take() {
                    switch item {
                    case .message(let message): try core.handle(message, now: after)
                    case .event(let event): try core.handle(event, now: after)
                    }
                }
            }
            if after >= nextTick {
                try core.tick(now: after)
                nextTick = after + Self.tickMilliseconds
            }
            core.writeStatusIfDue(now: after)
        }
    }
}

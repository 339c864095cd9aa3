import CMosquitto
import KognitaSystem
#if canImport(Glibc)
import Glibc
#endif

/// An MQTT client over libmosquitto, shaped for Swift concurrency.
///
/// - Its own network thread polls the socket itself (`mosquitto_loop_read`,
///   `_write` and `_misc`) rather than calling `mosquitto_loop`, which uses
///   select(2) and fails for a socket numbered 1024 or above: a process with
///   many clients and files (the devnet's thousand devices) would see every
///   later client fail to connect. The thread does every (re)connect
///   itself through `mosquitto_connect_bind_v5`, because libmosquitto 2.0's
///   built-in reconnect sends CONNECT without properties: the session expiry
///   would silently drop to 0 after the first reconnect and the broker would
///   forget the session. This also gives exponential backoff with jitter, and
///   a client started while the broker is down keeps trying.
/// - Callbacks run on that thread: they copy what they need (libmosquitto
///   frees the message when the callback returns) and hand off at once.
/// - ``publish(_:payload:qos:retain:)`` returns when the broker's PUBACK
///   arrives (QoS 1), not when the bytes were queued. A publish made while
///   disconnected stays queued in libmosquitto and goes out after the
///   reconnect; do not publish it again.
/// - ``stop()`` never hangs: it waits a bounded time for the thread to finish.
/// - Messages and connection events go to the ``messages`` and ``events``
///   streams, or, for a program that runs its own poll(2) loop rather than
///   Swift concurrency (the kognita-agent program, and its embedded build,
///   which has no streams), to an ``MQTTInbox``.
public final class MQTTClient: @unchecked Sendable {
    // @unchecked: the handle is used under libmosquitto's own locks (threaded
    // mode), and every mutable Swift field lives in `state` behind a lock.

    #if !KOGNITA_EMBEDDED
    /// Messages from the broker, in arrival order, bounded by
    /// ``MQTTConfiguration/inboundBufferSize`` (empty when the client has an inbox).
    public let messages: AsyncStream<MQTTMessage>
    /// Connection events (bounded; old events are dropped first; empty when the client has an inbox).
    public let events: AsyncStream<MQTTEvent>
    private let messageSink: AsyncStream<MQTTMessage>.Continuation
    private let eventSink: AsyncStream<MQTTEvent>.Continuation
    #endif
    /// The settings this client uses.
    public let configuration: MQTTConfiguration

    private let handle: OpaquePointer
    private let inbox: MQTTInbox?
    private let wakeup = Wakeup()
    private let finished = Wakeup()
    private let state = Protected(State())

    fileprivate struct State {
        var started = false
        var stopping = false
        var threadFinished = false
        var connected = false
        var connectedThisSession = false
        var droppedMessages = 0
        #if !KOGNITA_EMBEDDED
        var publishes: [Int32: CheckedContinuation<Void, any Error>] = [:]
        var subscribes: [Int32: CheckedContinuation<Void, any Error>] = [:]

        /// The waiters of one kind of operation.
        subscript(kind: OperationKind) -> [Int32: CheckedContinuation<Void, any Error>] {
            get { kind == .subscribe ? subscribes : publishes }
            set { if kind == .subscribe { subscribes = newValue } else { publishes = newValue } }
        }
        #endif
        /// Completions that arrived before the caller registered (mid -> reason code).
        var early: [Int32: Int32] = [:]
        /// Mids nobody waits for (``send(_:payload:qos:retain:)``, QoS 0
        /// publishes, subscriptions made without waiting), with their kind:
        /// a subscription lost with the connection never completes, and its
        /// mid must not linger to be mistaken for a later operation's.
        var unawaited: [Int32: OperationKind] = [:]
        /// Filters to restore when the broker has lost our session.
        var subscriptions: [String: Int32] = [:]

        /// QoS 1 publishes not yet acknowledged, awaited or not (one whose
        /// caller is about to register is not counted).
        var publishesInFlight: Int {
            var count = unawaited.values.reduce(0) { $0 + ($1 == .publish ? 1 : 0) }
            #if !KOGNITA_EMBEDDED
            count += publishes.count
            #endif
            return count
        }

        /// A completion with no waiter: true when nobody will wait for it;
        /// otherwise it is kept for the caller about to register.
        mutating func recordCompletion(mid: Int32, reason: Int32) -> Bool {
            if unawaited.removeValue(forKey: mid) != nil { return true }
            early[mid] = reason
            return false
        }
    }

    /// Operations that complete by mid.
    fileprivate enum OperationKind: Sendable {
        /// QoS 1 or 2: completes on the broker's acknowledgement, across reconnects.
        case publish
        /// QoS 0: completes once written; lost with the connection if not yet written.
        case publishAtMostOnce
        case subscribe
    }

    private static let libraryReady: Bool = { mosquitto_lib_init() == MOSQ_ERR_SUCCESS.rawValue }()

    /// Creates a client; nothing happens on the network until ``start()``.
    /// With an `inbox`, messages and events go there instead of the streams.
    public init(_ configuration: MQTTConfiguration, inbox: MQTTInbox? = nil) throws(MQTTError) {
        guard Self.libraryReady else { throw MQTTError("libmosquitto failed to initialise") }
        guard configuration.keepAliveSeconds >= 5 else { throw MQTTError("keep-alive must be at least 5 seconds") }
        guard let handle = mosquitto_new(configuration.clientID, configuration.cleanStart, nil) else {
            throw MQTTError("cannot create an MQTT client with id '\(configuration.clientID)': \(String(cString: strerror(errno)))")
        }
        self.handle = handle
        self.configuration = configuration
        self.inbox = inbox
        #if !KOGNITA_EMBEDDED
        (messages, messageSink) = AsyncStream.makeStream(of: MQTTMessage.self, bufferingPolicy: .bufferingOldest(max(1, configuration.inboundBufferSize)))
        (events, eventSink) = AsyncStream.makeStream(of: MQTTEvent.self, bufferingPolicy: .bufferingNewest(256))
        if inbox != nil { messageSink.finish(); eventSink.finish() }
        #endif
        // On failure, deinit (which runs: every property is set) destroys the handle.
        try configure()
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        installCallbacks()
    }

    deinit {
        // Only reached once the network thread (which holds a reference) has ended.
        mosquitto_destroy(handle)
        #if !KOGNITA_EMBEDDED
        messageSink.finish()
        eventSink.finish()
        #endif
    }

    private func configure() throws(MQTTError) {
        let c = configuration
        func check(_ rc: Int32, _ what: String) throws(MQTTError) {
            if rc != MOSQ_ERR_SUCCESS.rawValue { throw MQTTError(what, code: rc) }
        }
        let version: Int32 = c.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, version), "set the MQTT protocol version")
        // A batch or an ack is one small packet that someone waits for: without
        // TCP_NODELAY, Nagle holds it until the previous one's ACK (delayed up
        // to 40 ms by the peer), which made a device's publish-to-final 88 ms
        // instead of 7 on loopback.
        try check(mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, 1), "enable TCP_NODELAY")
        // We call publish/subscribe from other threads while our thread runs the loop.
        try check(mosquitto_threaded_set(handle, true), "enable threaded mode")
        if c.username != nil || c.password != nil {
            try check(mosquitto_username_pw_set(handle, c.username, c.password), "set the username and password")
        }
        if let will = c.will {
            let rc = will.payload.withUnsafeBytes {
                mosquitto_will_set_v5(handle, will.topic, Int32($0.count), $0.baseAddress, will.qos, will.retain, nil)
            }
            try check(rc, "set the last will on \(will.topic)")
        }
        if let tls = c.tls {
            guard tls.caFile != nil || tls.caPath != nil else {
                throw MQTTError("TLS needs a CA file or CA directory to verify the broker (tls.ca_file)")
            }
            try check(mosquitto_tls_set(handle, tls.caFile, tls.caPath, tls.certificateFile, tls.keyFile, nil),
                      "configure TLS (check that the CA, certificate and key files exist and are readable PEM)")
            // 1 = verify the peer; "tlsv1.2" makes TLS 1.2 the minimum (1.3 is allowed).
            try check(mosquitto_tls_opts_set(handle, 1, "tlsv1.2", nil), "set TLS options")
            try check(mosquitto_tls_insecure_set(handle, false), "enable hostname verification")
        }
    }

    /// Whether a CONNACK has been accepted on the current connection.
    public var isConnected: Bool { state.withLock { $0.connected } }

    /// Messages dropped because the application did not drain ``messages`` fast enough.
    public var droppedMessages: Int { state.withLock { $0.droppedMessages } }

    /// Starts the network thread, which connects and keeps reconnecting until ``stop()``.
    public func start() {
        let first = state.withLock { s in
            defer { s.started = true }
            return !s.started && !s.stopping
        }
        guard first else { return }
        NetworkThread.start { [self] in run() }
    }

    /// Disconnects cleanly and stops the network thread, waiting at most
    /// `timeout` seconds (a thread stuck in a TCP connect to an unreachable
    /// host finishes on its own later). Pending operations fail with a
    /// "stopped" error, and ``messages`` and ``events`` end. A stopped client
    /// does not start again.
    public func stop(timeout: Double = 5) {
        let (wasStarted, alreadyFinished) = state.withLock { s in
            s.stopping = true
            return (s.started, s.threadFinished)
        }
        wakeup.signal()
        if wasStarted && !alreadyFinished {
            finished.wait(seconds: timeout)
        }
        failEverythingPending()
        #if !KOGNITA_EMBEDDED
        messageSink.finish()
        eventSink.finish()
        #endif
    }

    /// Hands a connection event to the application.
    private func deliver(_ event: MQTTEvent) {
        if let inbox { inbox.put(.event(event)); return }
        #if !KOGNITA_EMBEDDED
        eventSink.yield(event)
        #endif
    }

    /// Hands a message to the application; false when its buffer is full and the message was dropped.
    private func deliver(_ message: MQTTMessage) -> Bool {
        if let inbox { return inbox.put(.message(message)) }
        #if !KOGNITA_EMBEDDED
        if case .dropped = messageSink.yield(message) { return false }
        #endif
        return true
    }

    // MARK: - Network thread

    private func run() {
        var delay = configuration.reconnectDelayMinSeconds
        while !state.withLock({ $0.stopping }) {
            let rc = connect()
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                var loopRC = MOSQ_ERR_SUCCESS.rawValue
                while !state.withLock({ $0.stopping }) {
                    loopRC = serviceConnection(waitingAtMost: 250)
                    if loopRC != MOSQ_ERR_SUCCESS.rawValue { break }
                }
                if loopRC == MOSQ_ERR_SUCCESS.rawValue { awaitAcknowledgements(seconds: 1) }
                let (stopping, hadSession) = state.withLock { s in
                    defer { s.connected = false; s.connectedThisSession = false }
                    return (s.stopping, s.connectedThisSession)
                }
                if stopping { break }
                if hadSession { delay = configuration.reconnectDelayMinSeconds }
                failPendingSubscribes(reason: "connection to \(endpoint) lost")
                deliver(.disconnected(description: "connection to \(endpoint) lost: \(String(cString: mosquitto_strerror(loopRC)))"))
            } else {
                deliver(.disconnected(description: "cannot connect to \(endpoint): \(String(cString: mosquitto_strerror(rc)))\(rc == MOSQ_ERR_ERRNO.rawValue ? " (\(String(cString: strerror(errno))))" : "")"))
            }
            // Full jitter over the upper half of the window. Only a stop cuts
            // it short (publishes also signal the wake-up).
            let until = Monotonic.seconds() + Double.random(in: (delay / 2)...delay)
            while !state.withLock({ $0.stopping }) && Monotonic.seconds() < until { wakeup.wait(seconds: until - Monotonic.seconds()) }
            delay = min(configuration.reconnectDelayMaxSeconds, delay * 2)
        }
        // Say goodbye properly, so the broker does not publish our will.
        if mosquitto_disconnect_v5(handle, 0, nil) == MOSQ_ERR_SUCCESS.rawValue { flushBeforeClosing() }
        state.withLock { $0.threadFinished = true; $0.connected = false }
        failEverythingPending()
        finished.signal()
    }

    /// Before saying goodbye, lets the broker acknowledge the QoS 1 publishes
    /// in flight (for at most `seconds`). Closing a socket with unread input
    /// (their PUBACKs) makes the kernel reset the connection, and a broker
    /// reset before it has read the last publishes and the DISCONNECT drops
    /// them and publishes the will of a client that stopped cleanly.
    private func awaitAcknowledgements(seconds: Double) {
        let deadline = Monotonic.seconds() + seconds
        while state.withLock({ $0.publishesInFlight > 0 }) && Monotonic.seconds() < deadline {
            guard serviceConnection(waitingAtMost: 20) == MOSQ_ERR_SUCCESS.rawValue else { return }
        }
    }

    /// Writes what is queued (the DISCONNECT last), waiting at most 200 ms
    /// for the socket. Only writes: once disconnecting, libmosquitto takes any
    /// packet it reads (a PUBACK still on its way) for a protocol error and
    /// closes the socket with the DISCONNECT unsent, and the broker then
    /// publishes the will of a client that stopped cleanly.
    private func flushBeforeClosing() {
        let deadline = Monotonic.seconds() + 0.2
        while mosquitto_want_write(handle) && Monotonic.seconds() < deadline {
            var socket = pollfd(fd: mosquitto_socket(handle), events: Int16(POLLOUT), revents: 0)
            guard socket.fd >= 0 else { return } // written and closed: the DISCONNECT went out
            let ready = poll(&socket, 1, 50)
            if ready < 0 && errno != EINTR { return }
            if ready <= 0 { continue }
            guard mosquitto_loop_write(handle, 1) == MOSQ_ERR_SUCCESS.rawValue else { return }
        }
    }

    private var endpoint: String { "\(configuration.host):\(configuration.port)" }

    /// One turn of the network loop: waits (poll, up to `milliseconds`) for the
    /// socket or the wake-up, then reads, writes what is queued, and keeps
    /// the connection alive. Returns libmosquitto's result (not success: the
    /// connection is gone).
    private func serviceConnection(waitingAtMost milliseconds: Int32) -> Int32 {
        let socket = mosquitto_socket(handle)
        guard socket >= 0 else { return MOSQ_ERR_NO_CONN.rawValue }
        var fds = [
            pollfd(fd: socket, events: Int16(POLLIN) | (mosquitto_want_write(handle) ? Int16(POLLOUT) : 0), revents: 0),
            pollfd(fd: wakeup.fd, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&fds, 2, milliseconds)
        if ready < 0 && errno != EINTR { return MOSQ_ERR_ERRNO.rawValue }
        if fds[1].revents != 0 { wakeup.clear() }
        if fds[0].revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 {
            let rc = mosquitto_loop_read(handle, 1)
            if rc != MOSQ_ERR_SUCCESS.rawValue { return rc }
        }
        if mosquitto_want_write(handle) {
            let rc = mosquitto_loop_write(handle, 1)
            if rc != MOSQ_ERR_SUCCESS.rawValue { return rc }
        }
        return mosquitto_loop_misc(handle)
    }

    /// One blocking connect; the session expiry goes with every CONNECT.
    private func connect() -> Int32 {
        var properties: OpaquePointer? = nil
        defer { mosquitto_property_free_all(&properties) }
        if configuration.protocolVersion == .v5 && configuration.sessionExpirySeconds > 0 {
            _ = mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), configuration.sessionExpirySeconds)
        }
        return mosquitto_connect_bind_v5(handle, configuration.host, Int32(configuration.port),
                                         configuration.keepAliveSeconds, nil, properties)
    }

    /// libmosquitto drops SUBSCRIBE packets in flight when the connection is
    /// lost (unlike QoS 1 publishes, which it resends), so their waiters would
    /// wait forever: fail them, and let the caller subscribe again on reconnect.
    private func failPendingSubscribes(reason: String) {
        // QoS 0 publishes not yet written go with the connection too.
        state.withLock { s in s.unawaited = s.unawaited.filter { $0.value == .publish } }
        #if !KOGNITA_EMBEDDED
        let waiting = state.withLock { s in
            defer { s.subscribes.removeAll() }
            return Array(s.subscribes.values)
        }
        for continuation in waiting { continuation.resume(throwing: MQTTError("subscribe: \(reason) before the broker answered; subscribe again once connected")) }
        #endif
    }

    private func failEverythingPending() {
        #if !KOGNITA_EMBEDDED
        let waiting = state.withLock { s in
            defer { s.publishes.removeAll(); s.subscribes.removeAll() }
            return Array(s.publishes.values) + Array(s.subscribes.values)
        }
        for continuation in waiting { continuation.resume(throwing: MQTTError.stopped) }
        #endif
    }

    // MARK: - Operations

    #if !KOGNITA_EMBEDDED
    /// Publishes and, for QoS 1 and 2, returns once the broker has acknowledged.
    /// Throws when the broker refuses it (for example, not authorized by its ACL).
    public func publish(_ topic: String, payload: [UInt8], qos: Int32 = 1, retain: Bool = false) async throws {
        var mid: Int32 = 0
        let rc = payload.withUnsafeBytes {
            mosquitto_publish_v5(handle, &mid, topic, Int32($0.count), $0.baseAddress, qos, retain, nil)
        }
        wakeup.signal()
        // While disconnected, libmosquitto keeps QoS > 0 messages queued and
        // sends them after the reconnect: that is still a publish in progress.
        let queued = rc == MOSQ_ERR_NO_CONN.rawValue && qos > 0 && mid != 0
        guard rc == MOSQ_ERR_SUCCESS.rawValue || queued else { throw MQTTError("publish to \(topic)", code: rc) }
        if qos == 0 {
            settleUnawaited(mid: mid, kind: .publishAtMostOnce)
            return
        }
        try await awaitCompletion(mid: mid, kind: .publish, operation: "publish to \(topic)")
    }
    #endif

    /// Queues a publish in libmosquitto and returns at once, without waiting
    /// for the PUBACK. Calls from one thread go out in the order made (the
    /// agent relies on this for its chain of batches; end-to-end acks, not
    /// PUBACKs, tell it what arrived).
    public func send(_ topic: String, payload: [UInt8], qos: Int32 = 1, retain: Bool = false) throws(MQTTError) {
        var mid: Int32 = 0
        let rc = payload.withUnsafeBytes {
            mosquitto_publish_v5(handle, &mid, topic, Int32($0.count), $0.baseAddress, qos, retain, nil)
        }
        wakeup.signal()
        let queued = rc == MOSQ_ERR_NO_CONN.rawValue && qos > 0 && mid != 0
        guard rc == MOSQ_ERR_SUCCESS.rawValue || queued else { throw MQTTError("publish to \(topic)", code: rc) }
        settleUnawaited(mid: mid, kind: qos == 0 ? .publishAtMostOnce : .publish)
    }

    #if !KOGNITA_EMBEDDED
    /// Subscribes to topic filters (restored automatically if the broker loses our session).
    public func subscribe(_ filters: [String], qos: Int32 = 1) async throws {
        guard !filters.isEmpty else { return }
        state.withLock { s in for filter in filters { s.subscriptions[filter] = qos } }
        let mid = try sendSubscribe(filters, qos: qos)
        try await awaitCompletion(mid: mid, kind: .subscribe, operation: "subscribe to \(filters.joined(separator: ", "))")
    }
    #endif

    /// Subscribes to topic filters without waiting for the broker's answer
    /// (restored automatically if the broker loses our session). A refusal
    /// arrives as an ``MQTTEvent/operationRefused(description:)`` event.
    public func subscribeWithoutWaiting(_ filters: [String], qos: Int32 = 1) throws(MQTTError) {
        guard !filters.isEmpty else { return }
        state.withLock { s in for filter in filters { s.subscriptions[filter] = qos } }
        settleUnawaited(mid: try sendSubscribe(filters, qos: qos), kind: .subscribe)
    }

    /// Marks an operation nobody waits for; if its completion came first, settles it now.
    private func settleUnawaited(mid: Int32, kind: OperationKind) {
        let early = state.withLock { s -> Int32? in
            if let reason = s.early.removeValue(forKey: mid) { return reason }
            s.unawaited[mid] = kind
            return nil
        }
        if let early { reportIfRefused(kind: kind, reason: early) }
    }

    /// A refusal nobody waits for still reaches the application, as an event.
    private func reportIfRefused(kind: OperationKind, reason: Int32) {
        guard reason >= 0x80 else { return }
        let what = kind == .subscribe ? "a subscription" : "a publish"
        deliver(.operationRefused(description: "the broker refused \(what): \(String(cString: mosquitto_reason_string(reason))) (reason \(reason)); check the broker's ACL for this client"))
    }

    private func sendSubscribe(_ filters: [String], qos: Int32) throws(MQTTError) -> Int32 {
        var mid: Int32 = 0
        var cStrings = filters.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        let rc = cStrings.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: buffer.count) { list in
                mosquitto_subscribe_multiple(handle, &mid, Int32(filters.count), list, qos, 0, nil)
            }
        }
        wakeup.signal()
        guard rc == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError("subscribe to \(filters.joined(separator: ", "))", code: rc) }
        return mid
    }

    #if !KOGNITA_EMBEDDED
    private func awaitCompletion(mid: Int32, kind: OperationKind, operation: String) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Outcome { case registered, stopped, done(reason: Int32) }
                let outcome: Outcome = state.withLock { s in
                    if let reason = s.early.removeValue(forKey: mid) { return .done(reason: reason) }
                    if s.stopping && s.threadFinished { return .stopped }
                    s[kind][mid] = continuation
                    return .registered
                }
                switch outcome {
                case .registered: break
                case .stopped: continuation.resume(throwing: MQTTError.stopped)
                case .done(let reason) where reason >= 0x80: continuation.resume(throwing: MQTTError.refused(operation, reasonCode: reason))
                case .done: continuation.resume()
                }
            }
        } onCancel: {
            let continuation = state.withLock { $0[kind].removeValue(forKey: mid) }
            continuation?.resume(throwing: CancellationError())
        }
    }
    #endif

    // MARK: - Callbacks (libmosquitto's thread)

    fileprivate static func client(_ userdata: UnsafeMutableRawPointer?) -> MQTTClient {
        Unmanaged<MQTTClient>.fromOpaque(userdata!).takeUnretainedValue()
    }

    /// Resolves an operation by mid: resumes its waiter, or remembers the
    /// result for a waiter that has not registered yet.
    fileprivate func complete(mid: Int32, reason: Int32, kind: OperationKind) {
        // One lock for the whole decision: a waiter registering in between
        // would otherwise miss its result.
        #if !KOGNITA_EMBEDDED
        let (waiter, wasUnawaited) = state.withLock { s -> (CheckedContinuation<Void, any Error>?, Bool) in
            if let waiter = s[kind].removeValue(forKey: mid) { return (waiter, false) }
            return (nil, s.recordCompletion(mid: mid, reason: reason))
        }
        if let waiter {
            if reason >= 0x80 {
                waiter.resume(throwing: MQTTError.refused(kind == .subscribe ? "subscribe" : "publish", reasonCode: reason))
            } else {
                waiter.resume()
            }
            return
        }
        #else
        let wasUnawaited = state.withLock { $0.recordCompletion(mid: mid, reason: reason) }
        #endif
        if wasUnawaited { reportIfRefused(kind: kind, reason: reason) }
    }

    fileprivate func connected(reasonCode: Int32, flags: Int32) {
        guard reasonCode == 0 else {
            deliver(.refused(reasonCode: reasonCode, description: String(cString: mosquitto_reason_string(reasonCode))))
            return
        }
        let sessionPresent = flags & 1 == 1
        let filters = state.withLock { s in
            s.connected = true
            s.connectedThisSession = true
            return s.subscriptions
        }
        // Subscribe again on every connect, even when the broker says it has
        // our session: a broker restarted after a crash comes back with its
        // last saved database, which can hold the session but not the
        // subscriptions made after that save (a bridge killed with the broker
        // heard nothing more, every batch stayed pending). Subscribing again
        // to the same filter only replaces it.
        for (qos, group) in Dictionary(grouping: filters, by: { $0.value }) {
            if let mid = try? sendSubscribe(group.map { $0.key }, qos: qos) { settleUnawaited(mid: mid, kind: .subscribe) }
        }
        deliver(.connected(sessionPresent: sessionPresent))
    }

    fileprivate func received(_ message: UnsafePointer<mosquitto_message>) {
        let m = message.pointee
        let payload = m.payloadlen > 0 ? Array(UnsafeRawBufferPointer(start: m.payload, count: Int(m.payloadlen))) : []
        let accepted = deliver(MQTTMessage(topic: String(cString: m.topic), payload: payload, qos: m.qos, retained: m.retain))
        if !accepted { state.withLock { $0.droppedMessages += 1 } }
    }

    private func installCallbacks() {
        mosquitto_connect_v5_callback_set(handle) { _, userdata, rc, flags, _ in
            MQTTClient.client(userdata).connected(reasonCode: rc, flags: flags)
        }
        mosquitto_publish_v5_callback_set(handle) { _, userdata, mid, reason, _ in
            MQTTClient.client(userdata).complete(mid: mid, reason: reason, kind: .publish)
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, userdata, mid, count, granted, _ in
            // A granted QoS >= 0x80 is the broker refusing that filter.
            var worst: Int32 = 0
            if let granted { for i in 0..<Int(count) { worst = max(worst, granted[i]) } }
            MQTTClient.client(userdata).complete(mid: mid, reason: worst >= 0x80 ? worst : 0, kind: .subscribe)
        }
        mosquitto_message_v5_callback_set(handle) { _, userdata, message, _ in
            if let message { MQTTClient.client(userdata).received(message) }
        }
    }
}

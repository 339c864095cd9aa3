import KognitaCore
import Synchronization

/// One authenticated, encrypted connection, as the rest of the node sees it:
/// who is at the other end, a bounded queue of frames to send, and the
/// requests waiting for their replies.
///
/// Sending never blocks: a peer that does not read fast enough to keep its
/// queue under ``maxQueuedFrames`` is disconnected (it reconnects and catches
/// up), so one slow peer cannot hold up the node or grow its memory.
public final class PeerLink: Sendable, Hashable, CustomStringConvertible {
    public let identity: PublicKey
    public let role: PeerRole
    /// Unique per connection in this process (an identity may reconnect).
    public let connection: UInt64
    /// The remote address, for logs.
    public let remote: String
    private let outbound: AsyncStream<[UInt8]>.Continuation
    let frames: AsyncStream<[UInt8]>
    private let state = Mutex(State())

    /// The most frames waiting to be written to one peer.
    public static let maxQueuedFrames = 20_000

    private struct State {
        var nextRequest: UInt64 = 1
        var waiting: [UInt64: Responder] = [:]
        var closed = false
    }

    private enum Responder {
        case once(CheckedContinuation<PeerMessage, any Error>)
        case stream(AsyncStream<PeerMessage>.Continuation)
    }

    private static let connections = Atomic<UInt64>(0)

    init(identity: PublicKey, role: PeerRole, remote: String) {
        self.identity = identity
        self.role = role
        self.remote = remote
        connection = Self.connections.add(1, ordering: .relaxed).newValue
        (frames, outbound) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingOldest(Self.maxQueuedFrames))
    }

    public var description: String { "\(role) \(identity.hex.prefix(12)) at \(remote)" }
    public static func == (l: PeerLink, r: PeerLink) -> Bool { l === r }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

    /// Queues a message; returns false when the link is closed or was just
    /// closed for being too far behind.
    @discardableResult
    public func send(_ message: PeerMessage) -> Bool { send(encoded: message.encoded()) }

    /// Queues a message already encoded (a broadcast encodes once).
    @discardableResult
    public func send(encoded: [UInt8]) -> Bool {
        switch outbound.yield(encoded) {
        case .enqueued: return true
        case .dropped:
            close()
            return false
        case .terminated: return false
        @unknown default: return false
        }
    }

    /// Sends a request made with a fresh request id and waits for its one
    /// reply; cancelling the calling task stops the wait.
    public func request(_ make: (UInt64) -> PeerMessage) async throws -> PeerMessage {
        let id = state.withLock { state -> UInt64 in
            defer { state.nextRequest += 1 }
            return state.nextRequest
        }
        let message = make(id)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let registered = state.withLock { state -> Bool in
                    guard !state.closed else { return false }
                    state.waiting[id] = .once(continuation)
                    return true
                }
                guard registered else { return continuation.resume(throwing: PeerLinkClosed(link: description)) }
                if Task.isCancelled || !send(message) { fail(id) }
            }
        } onCancel: {
            fail(id)
        }
    }

    /// ``request(_:)`` that gives up after `timeout`.
    public func request(timeout: Duration, _ make: (UInt64) -> PeerMessage) async throws -> PeerMessage {
        let message = make(0)
        return try await withThrowingTaskGroup(of: PeerMessage.self) { group in
            group.addTask { try await self.request { message.withRequest($0) } }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw PeerRequestTimedOut(link: self.description, timeout: timeout)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Sends a request and returns every reply to it, until the caller stops
    /// listening (``finish(_:)``) or the link closes.
    public func streamingRequest(_ make: (UInt64) -> PeerMessage) -> (id: UInt64, replies: AsyncStream<PeerMessage>) {
        let (stream, continuation) = AsyncStream.makeStream(of: PeerMessage.self)
        let id = state.withLock { state -> UInt64? in
            guard !state.closed else { return nil }
            defer { state.nextRequest += 1 }
            state.waiting[state.nextRequest] = .stream(continuation)
            return state.nextRequest
        }
        guard let id else {
            continuation.finish()
            return (0, stream)
        }
        if !send(make(id)) { finish(id) }
        return (id, stream)
    }

    /// Stops listening for replies to a streaming request.
    public func finish(_ id: UInt64) {
        if case .stream(let continuation)? = state.withLock({ $0.waiting.removeValue(forKey: id) }) { continuation.finish() }
    }

    /// Hands a reply to whoever waits for request `id`; false when nobody does.
    func deliver(_ message: PeerMessage, request id: UInt64) -> Bool {
        let responder = state.withLock { state -> Responder? in
            switch state.waiting[id] {
            case .once?: return state.waiting.removeValue(forKey: id)
            case let other: return other
            }
        }
        switch responder {
        case .once(let continuation)?: continuation.resume(returning: message)
        case .stream(let continuation)?: continuation.yield(message)
        case nil: return false
        }
        return true
    }

    private func fail(_ id: UInt64) {
        switch state.withLock({ $0.waiting.removeValue(forKey: id) }) {
        case .once(let continuation)?: continuation.resume(throwing: PeerLinkClosed(link: description))
        case .stream(let continuation)?: continuation.finish()
        case nil: break
        }
    }

    /// Closes the link: queued frames are dropped, waiting requests fail, and
    /// the connection's tasks end.
    public func close() {
        let waiting = state.withLock { state -> [Responder] in
            state.closed = true
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        outbound.finish()
        for responder in waiting {
            switch responder {
            case .once(let continuation): continuation.resume(throwing: PeerLinkClosed(link: description))
            case .stream(let continuation): continuation.finish()
            }
        }
    }

    public var isClosed: Bool { state.withLock { $0.closed } }
}

/// A peer did not reply in time.
public struct PeerRequestTimedOut: Error, Sendable, CustomStringConvertible {
    public let link: String
    public let timeout: Duration
    public var description: String { "\(link) did not reply within \(timeout)" }
}

/// The connection to a peer closed before its reply came.
public struct PeerLinkClosed: Error, Sendable, CustomStringConvertible {
    public let link: String
    public var description: String { "the connection to \(link) closed before it replied" }
}

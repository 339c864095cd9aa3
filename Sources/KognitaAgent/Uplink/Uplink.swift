import KognitaCore

/// The uplink's decisions, as a pure state machine: it is told what happens
/// (a batch spooled, an ack arrived, time passed, the broker reconnected) and
/// answers with actions for the agent to carry out. No I/O, no clock.
///
/// Rules it keeps:
/// - every spooled batch is published (at most `maxInFlight` at a time) and
///   resent with backoff until a `final` ack for its id arrives;
/// - transfers are re-batched only when their batch can never become final:
///   the network said `stale` (another batch is final at its seq), or its
///   chain no longer continues from the network's head. `conflict` alone is
///   not enough (the lock may be our own earlier copy), so it only waits;
/// - `insufficient-funds` pauses sending for a while; `overloaded` backs off;
///   `malformed`, `bad-signature` and the other rejections a resend cannot
///   fix set the batch aside for a person.
public struct Uplink: Sendable {
    /// What the agent must do.
    public enum Action: Sendable, Equatable {
        /// Publish this batch on the batch topic.
        case publish(SignedBatch)
        /// Publish an empty message on the sync topic (ask for the head).
        case requestSync
        /// Record in the spool that this batch is final.
        case markFinal(BatchID)
        /// Take these batches out of the chain, continue it at (nextSeq, prev),
        /// and spool their transfers again, in order, as new batches.
        case rechain(superseded: [SignedBatch], nextSeq: UInt64, prev: BatchID)
        /// Keep this batch aside and tell a person why.
        case setAside(BatchID, reason: RejectReason, detail: String)
    }

    /// Tunables.
    public struct Settings: Sendable, Hashable {
        public var maxInFlight = 16
        /// First resend delay; doubles per attempt up to `maxResendMilliseconds`.
        public var resendMilliseconds: UInt64 = 5_000
        public var maxResendMilliseconds: UInt64 = 60_000
        /// How long to pause after `insufficient-funds`.
        public var fundsHoldMilliseconds: UInt64 = 60_000
        public init() {}
    }

    /// What the agent reports in its status.
    public struct Status: Sendable, Equatable {
        public var lastHead: AccountHead?
        public var lastError: String?
        public var holdingUntil: UInt64?
        public var awaitingHead = false
    }

    private struct Flight: Sendable {
        var attempts: Int
        var nextAt: UInt64
    }

    public let settings: Settings
    /// Batches awaiting a final ack, in chain order.
    public private(set) var pending: [SignedBatch]
    public private(set) var status = Status()
    private var flights: [BatchID: Flight] = [:]
    /// Batches the network said are stale: they can never be final.
    private var doomed: Set<BatchID> = []
    /// How far the network is known to be: the furthest head seen, or past
    /// the last batch acked final. The head only moves forward, so a head
    /// behind this (from a delayed ack) is old news: re-chaining on it could
    /// take out a batch that is already final and pay its transfers twice.
    private var furthestHead: UInt64 = 0
    private var syncAskedAt: UInt64?

    /// Starts with what the spool holds, and how far the network is proven to be.
    public init(pending: [SignedBatch], provenNextSeq: UInt64 = 0, settings: Settings = Settings()) {
        self.pending = pending
        self.settings = settings
        furthestHead = provenNextSeq
    }

    // MARK: - Events

    /// A new batch is durable in the spool.
    public mutating func spooled(_ batch: SignedBatch, now: UInt64) -> [Action] {
        pending.append(batch)
        return sendDue(now: now)
    }

    /// The broker connection is (back) up: send everything due, right away,
    /// and start the backoff over. What was in flight may have died with the
    /// old connection or with the broker itself (a broker restarted after a
    /// crash has lost what it had not saved); the backoff earned against the
    /// old connection would hold those batches back for up to a minute.
    public mutating func connected(now: UInt64) -> [Action] {
        for id in flights.keys {
            flights[id]?.nextAt = now
            flights[id]?.attempts = 0
        }
        var actions = sendDue(now: now)
        if status.awaitingHead { syncAskedAt = now; actions.append(.requestSync) }
        return actions
    }

    /// Time passed: resends, the end of a hold, a sync that got no answer.
    public mutating func tick(now: UInt64) -> [Action] {
        if let until = status.holdingUntil, now >= until { status.holdingUntil = nil }
        var actions = sendDue(now: now)
        if status.awaitingHead, let asked = syncAskedAt, now >= asked + settings.resendMilliseconds {
            syncAskedAt = now
            actions.append(.requestSync)
        }
        return actions
    }

    /// An ack arrived on our ack topic.
    public mutating func received(_ ack: Ack, now: UInt64) -> [Action] {
        // An implausible head (seq 0, or a first seq with a prev) is ignored, whole.
        if let head = ack.head, head.nextSeq == 0 || (head.nextSeq == 1) != head.lastFinal.rawValue.isZero { return [] }
        if let head = ack.head { status.lastHead = head }
        switch ack.status {
        case .accepted:
            return []
        case .final:
            guard let id = ack.id, let index = pending.firstIndex(where: { $0.id == id }) else { return [] }
            // A final batch at seq s means the network is at least at s + 1.
            furthestHead = max(furthestHead, pending[index].batch.seq + 1)
            pending.remove(at: index)
            flights[id] = nil
            return [.markFinal(id)] + sendDue(now: now)
        case .head:
            guard let head = ack.head else { return [] }
            return rechainIfNeeded(on: head, now: now)
        case .rejected:
            return rejected(ack, now: now)
        }
    }

    // MARK: - Decisions

    private mutating func rejected(_ ack: Ack, now: UInt64) -> [Action] {
        guard let reason = ack.reason else { return [] }
        let batch = ack.id.flatMap { id in pending.first { $0.id == id } }
        // A late answer about a batch we no longer hold (final, superseded or
        // set aside) changes nothing; acting on it could re-chain twice.
        guard batch != nil || ack.id == nil else { return [] }
        let detail = ack.detail ?? ""
        status.lastError = "batch \(ack.seq.map(String.init) ?? "?") rejected: \(reason)\(detail.isEmpty ? "" : " (\(detail))")"
        switch reason {
        case .stale:
            if let batch { doomed.insert(batch.id) }
            return askForHead(ack.head, now: now)
        case .gap:
            return askForHead(ack.head, now: now)
        case .conflict:
            // Another batch holds the seq but is not final: wait; a resend
            // will later be answered final (it was ours) or stale.
            if let id = batch?.id { backOff(id, now: now) }
            return []
        case .insufficientFunds, .insufficientBond, .notAuthorized, .wrongNetwork, .feeTooLow:
            // Fixable outside the device (funds, registration, configuration,
            // fee policy): hold everything and try again later; the reason is
            // in the status. Setting batches aside would quarantine the backlog.
            status.holdingUntil = now + settings.fundsHoldMilliseconds
            for id in flights.keys { flights[id]?.nextAt = now + settings.fundsHoldMilliseconds }
            return []
        case .overloaded:
            if let id = batch?.id { backOff(id, now: now) }
            return []
        case .malformed, .badSignature, .tooLarge:
            guard let batch else { return [] }
            pending.removeAll { $0.id == batch.id }
            flights[batch.id] = nil
            doomed.insert(batch.id)
            // Batches chained on it can never be final now: ask where the network is.
            return [.setAside(batch.id, reason: reason, detail: detail)] + askForHead(nil, now: now)
        }
    }

    private mutating func askForHead(_ head: AccountHead?, now: UInt64) -> [Action] {
        if let head { return rechainIfNeeded(on: head, now: now) }
        status.awaitingHead = true
        syncAskedAt = now
        return [.requestSync]
    }

    /// Compares our chain with the network's head and re-chains exactly the
    /// batches that can never be final:
    /// - batches the network called stale (another batch is final at their seq);
    /// - batches at or beyond the head that do not continue the head's chain
    ///   (followed by seq and prev, not by their place in our list: after an
    ///   earlier re-chain the list holds two generations).
    /// Batches behind the head are otherwise left alone: a resend tells
    /// whether each is final or stale.
    private mutating func rechainIfNeeded(on head: AccountHead, now: UInt64) -> [Action] {
        guard head.nextSeq >= furthestHead else { return [] }
        furthestHead = head.nextSeq
        status.awaitingHead = false
        syncAskedAt = nil
        var actions: [Action] = []

        // The head's own last final batch, if it is one of ours.
        if head.nextSeq > 1, let index = pending.firstIndex(where: { $0.id == head.lastFinal && !doomed.contains($0.id) }) {
            actions.append(.markFinal(pending[index].id))
            flights[pending[index].id] = nil
            pending.remove(at: index)
        }

        // Follow the chain that continues the head, by seq and prev.
        var expectedSeq = head.nextSeq
        var expectedPrev = head.lastFinal
        var intact: Set<BatchID> = []
        while let next = pending.first(where: { $0.batch.seq == expectedSeq && $0.batch.prev == expectedPrev && !doomed.contains($0.id) }) {
            intact.insert(next.id)
            expectedSeq += 1
            expectedPrev = next.id
        }
        let superseded = pending.filter { doomed.contains($0.id) || ($0.batch.seq >= head.nextSeq && !intact.contains($0.id)) }
        if !superseded.isEmpty {
            let gone = Set(superseded.map { $0.id })
            pending.removeAll { gone.contains($0.id) }
            for id in gone { flights[id] = nil; doomed.remove(id) }
            actions.append(.rechain(superseded: superseded, nextSeq: expectedSeq, prev: expectedPrev))
        }
        for id in flights.keys { flights[id]?.nextAt = now } // resend what remains now
        return actions + sendDue(now: now)
    }

    private mutating func backOff(_ id: BatchID, now: UInt64) {
        guard var flight = flights[id] else { return }
        flight.nextAt = now + delay(afterAttempts: flight.attempts)
        flights[id] = flight
    }

    private func delay(afterAttempts attempts: Int) -> UInt64 {
        let exponent = UInt64(min(max(attempts - 1, 0), 16))
        return min(settings.maxResendMilliseconds, settings.resendMilliseconds << exponent)
    }

    /// Publishes what is due: new batches up to the window, and resends.
    private mutating func sendDue(now: UInt64) -> [Action] {
        guard status.holdingUntil == nil, !status.awaitingHead else { return [] }
        var actions: [Action] = []
        for batch in pending.prefix(settings.maxInFlight) {
            if var flight = flights[batch.id] {
                guard now >= flight.nextAt else { continue }
                flight.attempts += 1
                flight.nextAt = now + delay(afterAttempts: flight.attempts)
                flights[batch.id] = flight
            } else {
                flights[batch.id] = Flight(attempts: 1, nextAt: now + settings.resendMilliseconds)
            }
            actions.append(.publish(batch))
        }
        return actions
    }

    /// When the next resend or sync retry is due, for the caller's timer.
    public var nextDeadline: UInt64? {
        var deadlines = flights.values.map { $0.nextAt }
        if let until = status.holdingUntil { deadlines.append(until) }
        if let asked = syncAskedAt { deadlines.append(asked + settings.resendMilliseconds) }
        return deadlines.min()
    }
}

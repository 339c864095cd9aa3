import KognitaCore

/// Collects transfers into the next batch, which closes at a number of
/// transfers, a size, or an age, whichever comes first. Pure: the caller
/// supplies the time, signs and spools what closes.
public struct Batcher: Sendable {
    /// Limits for closing a batch.
    public struct Limits: Sendable, Hashable {
        /// At most 1024 (the contract's limit).
        public var maxTransfers: Int
        /// Encoded payload size, at most 65,536 bytes.
        public var maxBytes: Int
        /// Age of the oldest transfer in the open batch, in milliseconds.
        public var maxDelayMilliseconds: UInt64

        public init(maxTransfers: Int = 256, maxBytes: Int = 32 * 1024, maxDelayMilliseconds: UInt64 = 2000) {
            self.maxTransfers = min(max(1, maxTransfers), ProtocolLimits.maxTransfers)
            self.maxBytes = min(max(256, maxBytes), ProtocolLimits.maxBatchBytes)
            self.maxDelayMilliseconds = maxDelayMilliseconds
        }
    }

    public let limits: Limits
    /// Transfers waiting for the next batch.
    public private(set) var open: [Transfer] = []
    private var openedAt: UInt64 = 0
    private var openBytes = 0
    /// Space for the batch fields around the transfers, worst case: map head,
    /// version, a 32-byte network, 9-byte seq, created and fee, 32-byte prev
    /// and the array head (107 bytes), rounded up.
    private static let batchOverhead = 128

    public init(limits: Limits) { self.limits = limits }

    /// Largest encoded transfer: 32-byte recipient, 64-byte sensor id, full-width integers.
    public static let maxTransferSize = 1 + 2 + 34 + 2 + 9 + 2 + 66 + 2 + 9 + 2 + 9

    /// Whether `count` more transfers surely fit in the open batch. The agent
    /// asks before feeding a reading to its rules and closes the batch first
    /// when not, so a batch never closes between a reading's transfers: the
    /// rule state saved with each batch then counts exactly what it holds.
    public func hasRoom(forTransfers count: Int) -> Bool {
        open.count + count <= limits.maxTransfers
            && Self.batchOverhead + openBytes + count * Self.maxTransferSize <= limits.maxBytes
    }

    /// Adds a transfer (the caller checked ``hasRoom(forTransfers:)``).
    /// Returns the batch's transfers when it reached the count limit.
    public mutating func add(_ transfer: Transfer, now: UInt64) -> [Transfer]? {
        precondition(hasRoom(forTransfers: 1), "the agent checks for room before adding")
        if open.isEmpty { openedAt = now }
        open.append(transfer)
        openBytes += transfer.encodedSize
        return open.count >= limits.maxTransfers ? take() : nil
    }

    /// Closes the open batch if its oldest transfer is old enough.
    public mutating func tick(now: UInt64) -> [Transfer]? {
        guard !open.isEmpty, now >= openedAt + limits.maxDelayMilliseconds else { return nil }
        return take()
    }

    /// When the open batch will be due, for the caller's timer; nil when empty.
    public var dueAt: UInt64? { open.isEmpty ? nil : openedAt + limits.maxDelayMilliseconds }

    /// Takes everything, to close a batch now (for example, at shutdown).
    public mutating func take() -> [Transfer] {
        defer { open = []; openBytes = 0 }
        return open
    }
}

/// Per-device token buckets: each device may send `rate` batches per second
/// on average, with bursts up to `burst`, so one noisy or broken device
/// cannot take the bridge's capacity from the rest. Holds at most
/// `maxDevices` buckets (the idlest are forgotten first; a forgotten device
/// starts again with a full bucket, which is harmless).
public struct DeviceRateLimiter<Device: Hashable>: Sendable where Device: Sendable {
    public let rate: Double
    public let burst: Double
    public let maxDevices: Int
    private var buckets: [Device: Bucket] = [:]

    private struct Bucket: Sendable {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    public init(rate: Double, burst: Double, maxDevices: Int = 1_000_000) {
        self.rate = rate
        self.burst = max(burst, 1)
        self.maxDevices = maxDevices
    }

    /// Takes one token for `device` at `now`; false when its bucket is empty.
    public mutating func allow(_ device: Device, now: ContinuousClock.Instant = .now) -> Bool {
        var bucket = buckets[device] ?? Bucket(tokens: burst, updated: now)
        let elapsed = bucket.updated.duration(to: now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        bucket.tokens = min(burst, bucket.tokens + max(0, seconds) * rate)
        bucket.updated = now
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        if buckets.count >= maxDevices, buckets[device] == nil { evictIdle(now: now) }
        buckets[device] = bucket
        return allowed
    }

    /// Devices tracked now.
    public var count: Int { buckets.count }

    private mutating func evictIdle(now: ContinuousClock.Instant) {
        // A bucket that has refilled completely carries no state worth keeping.
        let full = Duration.seconds(burst / max(rate, 1e-9))
        buckets = buckets.filter { $0.value.updated.duration(to: now) < full }
        if buckets.count >= maxDevices { buckets.removeAll(keepingCapacity: true) }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time, for timestamps that leave the process (batch times,
/// stored records). Durations use `ContinuousClock` instead.
public enum WallClock {
    /// Milliseconds since the Unix epoch.
    public static func unixMillis() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }
}

import KognitaSystem

/// Wall-clock time in milliseconds since the Unix epoch.
func currentTimeMilliseconds() -> UInt64 { WallClock.unixMillis() }

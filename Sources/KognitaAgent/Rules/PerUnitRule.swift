import KognitaCore

/// "Every N units consumed, pay price x units to a recipient": the rule for
/// metered things (Wh, litres, minutes).
///
/// The sensor is a counter that increases; when it goes backwards the device
/// restarted its count, and what it shows since then is new consumption.
/// A sensor that jitters (an analog reading, a scaled value) can dip a little
/// without a reset: a drop of at most `dipTolerance` is read as noise, so
/// nothing is counted until the counter passes its highest value again. Read
/// as a reset, such a dip would pay the whole counter value once more.
/// Consumption is counted in milli-units and paid in whole blocks of N units;
/// the remainder carries over. A rule never spends more than `hourlyCap` in a
/// clock hour: what the cap holds back stays counted and is paid in a later
/// hour. Pure: no clock, no I/O.
public struct PerUnitRule: Sendable, Hashable {
    /// Settings (from the config file).
    public struct Settings: Sendable, Hashable {
        public var id: String
        public var sensor: String
        public var recipient: AccountID
        /// Units per payment block (N), at least 1.
        public var everyUnits: UInt64
        /// Price per unit, base units.
        public var pricePerUnit: UInt64
        /// Most this rule pays in one clock hour, base units.
        public var hourlyCap: UInt64
        /// The largest drop of the counter read as noise rather than a
        /// reset (milli-units, 0 or more).
        public var dipToleranceMilliUnits: Int64

        public init(id: String, sensor: String, recipient: AccountID, everyUnits: UInt64, pricePerUnit: UInt64, hourlyCap: UInt64,
                    dipToleranceMilliUnits: Int64 = 0) {
            self.id = id
            self.sensor = sensor
            self.recipient = recipient
            self.everyUnits = everyUnits
            self.pricePerUnit = pricePerUnit
            self.hourlyCap = hourlyCap
            self.dipToleranceMilliUnits = max(0, dipToleranceMilliUnits)
        }
    }

    /// What the rule remembers between readings; stored in the spool with
    /// every batch so a restart resumes exactly.
    public struct State: Sendable, Hashable {
        /// The counter value consumption is counted from (milli-units): the
        /// last reading, or the highest one while the counter is in a dip
        /// within the tolerance; nil before the first reading.
        public var lastCounter: Int64?
        /// Consumed but not yet paid (milli-units).
        public var unpaid: UInt64 = 0
        /// The clock hour (ms / 3,600,000) that `spentThisHour` belongs to.
        public var hour: UInt64 = 0
        /// Paid so far in `hour`.
        public var spentThisHour: UInt64 = 0

        public init(lastCounter: Int64? = nil, unpaid: UInt64 = 0, hour: UInt64 = 0, spentThisHour: UInt64 = 0) {
            self.lastCounter = lastCounter
            self.unpaid = unpaid
            self.hour = hour
            self.spentThisHour = spentThisHour
        }
    }

    /// A counter that went backwards by more than the dip tolerance,
    /// in milli-units: read as the meter restarting its count.
    public struct Reset: Sendable, Hashable {
        public var from: Int64
        public var to: Int64

        public init(from: Int64, to: Int64) {
            self.from = from
            self.to = to
        }
    }

    public let settings: Settings
    public private(set) var state: State
    /// The reset the last reading was read as, if it was one (for the log;
    /// not part of the state the spool keeps).
    public private(set) var lastReset: Reset?

    public init(_ settings: Settings, state: State = State()) {
        precondition(settings.everyUnits >= 1, "everyUnits is validated by the config")
        self.settings = settings
        self.state = state
    }

    /// Counts a reading and, when `mayPay`, returns the transfer it triggers
    /// (if a whole block is due and the hourly cap allows). With `mayPay`
    /// false (the spool is full) consumption is only counted.
    public mutating func observe(_ reading: Reading, mayPay: Bool = true) -> Transfer? {
        lastReset = nil
        if let last = state.lastCounter {
            let (rise, overflow) = reading.milliUnits.subtractingReportingOverflow(last)
            if reading.milliUnits >= last && !overflow {
                state.unpaid = state.unpaid.addingReportingOverflow(UInt64(rise)).partialValue
                state.lastCounter = reading.milliUnits
            } else if isNoise(dipFrom: last, to: reading.milliUnits) {
                // Keep counting from the highest value: what the counter shows
                // until it passes it again was paid already.
            } else {
                // A reset: the counter started again from zero, and what it
                // shows now is new consumption (a reading just below zero is
                // noise around it, and counts from zero too).
                lastReset = Reset(from: last, to: reading.milliUnits)
                let restart = max(0, reading.milliUnits)
                state.unpaid = state.unpaid.addingReportingOverflow(UInt64(restart)).partialValue
                state.lastCounter = restart
            }
        } else {
            state.lastCounter = reading.milliUnits
        }
        guard mayPay else { return nil }
        return payment(for: reading)
    }

    /// Whether a drop from `last` to `now` is within the dip tolerance.
    private func isNoise(dipFrom last: Int64, to now: Int64) -> Bool {
        let (drop, overflow) = last.subtractingReportingOverflow(now)
        return !overflow && drop <= settings.dipToleranceMilliUnits
    }

    private mutating func payment(for reading: Reading) -> Transfer? {
        let hour = reading.at / 3_600_000
        // Only a later hour resets the spend: a clock that steps back (a Pi
        // without RTC before NTP) must not open a fresh allowance.
        if hour > state.hour { state.hour = hour; state.spentThisHour = 0 }
        let blockMilli = settings.everyUnits.multipliedReportingOverflow(by: 1000)
        let blockPrice = settings.everyUnits.multipliedReportingOverflow(by: settings.pricePerUnit)
        guard !blockMilli.overflow, !blockPrice.overflow, blockPrice.partialValue > 0 else { return nil }
        let dueBlocks = state.unpaid / blockMilli.partialValue
        let affordableBlocks = (settings.hourlyCap - min(settings.hourlyCap, state.spentThisHour)) / blockPrice.partialValue
        let blocks = min(dueBlocks, affordableBlocks)
        guard blocks > 0 else { return nil }
        let amount = blocks * blockPrice.partialValue
        state.unpaid -= blocks * blockMilli.partialValue
        state.spentThisHour += amount
        return Transfer(to: settings.recipient, amount: Amount(amount), sensor: settings.sensor,
                        reading: reading.milliUnits, at: reading.at)
    }
}

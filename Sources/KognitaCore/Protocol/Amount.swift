/// An amount of base units. Arithmetic that would overflow or go below zero
/// throws instead of wrapping.
public struct Amount: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The number of base units.
    public let baseUnits: UInt64

    /// An amount of `baseUnits`.
    public init(_ baseUnits: UInt64) { self.baseUnits = baseUnits }
    /// An amount written as a literal, e.g. `let fee: Amount = 10`.
    public init(integerLiteral value: UInt64) { baseUnits = value }

    /// Nothing.
    public static let zero = Amount(0)
    /// The largest representable amount.
    public static let max = Amount(UInt64.max)

    /// `self + other`; throws ``AmountError/overflow`` past 2^64 - 1.
    public func adding(_ other: Amount) throws(AmountError) -> Amount {
        let (sum, overflow) = baseUnits.addingReportingOverflow(other.baseUnits)
        if overflow { throw .overflow(self, other) }
        return Amount(sum)
    }

    /// `self - other`; throws ``AmountError/insufficient`` below zero.
    public func subtracting(_ other: Amount) throws(AmountError) -> Amount {
        guard other.baseUnits <= baseUnits else { throw .insufficient(have: self, need: other) }
        return Amount(baseUnits - other.baseUnits)
    }

    /// `self * factor`; throws ``AmountError/overflow`` past 2^64 - 1.
    public func multiplied(by factor: UInt64) throws(AmountError) -> Amount {
        let (product, overflow) = baseUnits.multipliedReportingOverflow(by: factor)
        if overflow { throw .multiplicationOverflow(self, factor) }
        return Amount(product)
    }

    /// The sum of `amounts`, throwing on overflow.
    public static func sum<Amounts: Sequence<Amount>>(_ amounts: Amounts) throws(AmountError) -> Amount {
        var total = Amount.zero
        for amount in amounts { total = try total.adding(amount) }
        return total
    }

    public static func < (l: Amount, r: Amount) -> Bool { l.baseUnits < r.baseUnits }
    public var description: String { String(baseUnits) }
}

/// Amount arithmetic that has no result in base units.
public enum AmountError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A sum past 2^64 - 1.
    case overflow(Amount, Amount)
    /// A product past 2^64 - 1.
    case multiplicationOverflow(Amount, UInt64)
    /// A subtraction below zero.
    case insufficient(have: Amount, need: Amount)

    public var description: String {
        switch self {
        case .overflow(let a, let b): "\(a) + \(b) exceeds the largest amount (2^64 - 1 base units)"
        case .multiplicationOverflow(let a, let f): "\(a) x \(f) exceeds the largest amount (2^64 - 1 base units)"
        case .insufficient(let have, let need): "\(need) is more than the \(have) available"
        }
    }
}

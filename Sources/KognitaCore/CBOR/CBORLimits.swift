/// Limits a decoder enforces before it trusts a length from the input.
public struct CBORLimits: Sendable, Hashable {
    /// Largest accepted input, in bytes.
    public var maxInputSize: Int
    /// Deepest accepted nesting of arrays, maps and tags.
    public var maxDepth: Int
    /// Largest accepted number of elements in one array or entries in one map.
    public var maxItemCount: Int

    /// Limits; depth and item count default to what any contract structure fits in.
    public init(maxInputSize: Int, maxDepth: Int = 16, maxItemCount: Int = 65_536) {
        self.maxInputSize = maxInputSize
        self.maxDepth = maxDepth
        self.maxItemCount = maxItemCount
    }

    /// 1 MiB, 16 levels, 65,536 items: generous for anything in the contract.
    public static let `default` = CBORLimits(maxInputSize: 1 << 20)
}

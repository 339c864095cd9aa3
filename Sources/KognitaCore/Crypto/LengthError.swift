/// A value had the wrong number of bytes.
public struct LengthError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The length the value must have.
    public let expected: Int
    /// The length it had.
    public let actual: Int
    public var description: String { "expected \(expected) bytes, got \(actual)" }
}

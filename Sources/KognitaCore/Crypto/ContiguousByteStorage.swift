/// Types whose bytes are contiguous in memory, so they can be handed to C.
/// (Foundation's `ContiguousBytes` plays this role elsewhere; the core does
/// without Foundation, and a distinct name keeps both usable side by side.)
public protocol ContiguousByteStorage {
    /// Calls `body` with the bytes.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousByteStorage where Element == UInt8 {}
extension ArraySlice: ContiguousByteStorage where Element == UInt8 {}
extension ContiguousArray: ContiguousByteStorage where Element == UInt8 {}
extension UnsafeRawBufferPointer: ContiguousByteStorage {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(self) }
}

import CSodium

/// Owns secret key material and zeroes it (`sodium_memzero`) when released.
///
/// The buffer is allocated once, never copied by Swift, and written only in
/// `init` (or, for session keys, by the call that derives them, before the
/// value is shared); after that it is read-only, which is why sharing it
/// across concurrency domains is safe.
final class SecretBytes: @unchecked Sendable {
    let count: Int
    private let pointer: UnsafeMutableRawPointer

    /// Allocates `count` bytes and lets `initialize` fill them.
    init(count: Int, initialize: (UnsafeMutableRawBufferPointer) -> Void) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 16)
        let buffer = UnsafeMutableRawBufferPointer(start: pointer, count: count)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        initialize(buffer)
    }

    deinit {
        Sodium.zero(UnsafeMutableRawBufferPointer(start: pointer, count: count))
        pointer.deallocate()
    }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Writes the bytes; only while the value is not yet shared.
    func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: pointer, count: count))
    }
}

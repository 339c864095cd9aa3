import KognitaCore

/// A Merkle tree over batch keys (account and batch id), shaped as RFC 9162 (Certificate Transparency
/// v2) defines it, with BLAKE2b-256 and its domain-separation prefixes (0x00
/// for a leaf, 0x01 for an inner node).
///
/// Why a tree: a validator signs one vote over hundreds of batch ids, but a
/// certificate is about one batch. Signing the root lets a certificate carry,
/// per vote, only the log2(n) hashes that tie its batch to the signed root,
/// instead of the whole list.
public struct MerkleTree: Sendable {
    /// Level 0 holds the leaf hashes; the last level holds the root alone.
    private let levels: [[Bytes32]]

    /// Builds the tree over `ids` (at least one).
    public init(_ keys: [BatchKey]) {
        self.init(leafHashes: keys.map(Self.leafHash))
    }

    /// Builds the tree over leaves already hashed with ``leafHash(of:)`` (at least one).
    public init(leafHashes: [Bytes32]) {
        precondition(!leafHashes.isEmpty, "a Merkle tree needs at least one leaf")
        var levels = [leafHashes]
        while let last = levels.last, last.count > 1 {
            var next: [Bytes32] = []
            next.reserveCapacity((last.count + 1) / 2)
            var index = 0
            while index < last.count {
                // An odd node at the end moves up unchanged: this gives exactly
                // RFC 9162's split at the largest power of two below n.
                next.append(index + 1 < last.count ? Self.nodeHash(last[index], last[index + 1]) : last[index])
                index += 2
            }
            levels.append(next)
        }
        self.levels = levels
    }

    /// The number of leaves.
    public var count: Int { levels[0].count }

    /// The root hash: what a vote signs.
    public var root: Bytes32 { levels[levels.count - 1][0] }

    /// The inclusion path of leaf `index`, bottom up.
    public func path(for index: Int) -> [Bytes32] {
        precondition(index >= 0 && index < count)
        var path: [Bytes32] = []
        var position = index
        for level in levels.dropLast() {
            let sibling = position ^ 1
            if sibling < level.count { path.append(level[sibling]) }
            position /= 2
        }
        return path
    }

    /// The root that leaf `key` at `index` of a tree of `count` leaves leads to
    /// along `path`, or nil when the path does not fit that shape (too short,
    /// too long, index out of range).
    public static func root(of key: BatchKey, index: Int, count: Int, path: [Bytes32]) -> Bytes32? {
        root(leafHash: leafHash(key), index: index, count: count, path: path)
    }

    /// The root that the leaf hashed to `leafHash` at `index` of a tree of
    /// `count` leaves leads to along `path`, or nil when the path does not fit.
    public static func root(leafHash: Bytes32, index: Int, count: Int, path: [Bytes32]) -> Bytes32? {
        guard count >= 1, index >= 0, index < count else { return nil }
        var hash = leafHash
        var position = index, size = count, used = 0
        while size > 1 {
            if position % 2 == 1 {
                guard used < path.count else { return nil }
                hash = nodeHash(path[used], hash)
                used += 1
            } else if position + 1 < size {
                guard used < path.count else { return nil }
                hash = nodeHash(hash, path[used])
                used += 1
            } // else: the odd last node, promoted without a sibling
            position /= 2
            size = (size + 1) / 2
        }
        return used == path.count ? hash : nil
    }

    // Both hashes build their 65-byte input on the stack: a vote over 250
    // batches makes about 500 of them, and a heap array each was most of the cost.
    static func leafHash(_ key: BatchKey) -> Bytes32 {
        hash(prefix: 0, key.account.rawValue, key.id.rawValue)
    }

    /// The leaf hash of arbitrary leaf bytes: BLAKE2b-256 of 0x00 followed by them.
    public static func leafHash(of bytes: [UInt8]) -> Bytes32 {
        BLAKE2b256.hash([0] + bytes)
    }

    static func nodeHash(_ left: Bytes32, _ right: Bytes32) -> Bytes32 {
        hash(prefix: 1, left, right)
    }

    private static func hash(prefix: UInt8, _ first: Bytes32, _ second: Bytes32) -> Bytes32 {
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 1) { buffer in
            buffer[0] = prefix
            first.withUnsafeBytes { buffer.baseAddress!.advanced(by: 1).copyMemory(from: $0.baseAddress!, byteCount: 32) }
            second.withUnsafeBytes { buffer.baseAddress!.advanced(by: 33).copyMemory(from: $0.baseAddress!, byteCount: 32) }
            return BLAKE2b256.hash(UnsafeRawBufferPointer(buffer))
        }
    }
}

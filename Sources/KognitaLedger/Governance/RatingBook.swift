import KognitaCore

/// Every validator's record: its measures in the last epochs it sat, and
/// whether a proof of equivocation slashed it. A function of the header
/// chain alone: each checkpoint carries the whole book (body kind 7) with
/// the measures of the epoch it closes, and every node computes the next
/// book from the previous one and the checkpoint's seal reports.
public struct RatingBook: Sendable, Hashable {
    /// One measured epoch.
    public struct Entry: Sendable, Hashable {
        public let epoch: UInt64
        /// Permille.
        public let measure: UInt64
        public init(epoch: UInt64, measure: UInt64) {
            self.epoch = epoch
            self.measure = measure
        }
    }

    public struct Record: Sendable, Hashable {
        /// The node's measures, oldest first. While it sits, measures older
        /// than ``GovernanceRules/window`` epochs (by the calendar) expire,
        /// so a one-off outage is never in the window twice. Off the
        /// committee the record stands until its latest measure is a window
        /// old, then it is forgotten: a poor record keeps a validator out
        /// that long, and nothing else heals it.
        public var window: [Entry]
        /// Slashed for equivocation: rated 0 and never elected again.
        public var slashed: Bool
        public init(window: [Entry] = [], slashed: Bool = false) {
            self.window = window
            self.slashed = slashed
        }
        public var rating: UInt64 { slashed ? 0 : GovernanceRules.rating(window: window.map(\.measure)) }
    }

    public private(set) var records: [PublicKey: Record]

    public init(records: [PublicKey: Record] = [:]) { self.records = records }

    /// A node's rating; ``GovernanceRules/probation`` when it has no record.
    public func rating(of node: PublicKey) -> UInt64 { records[node]?.rating ?? GovernanceRules.probation }
    public func isSlashed(_ node: PublicKey) -> Bool { records[node]?.slashed ?? false }

    /// The book after epoch `committee.epoch`: each member's measure joins
    /// its window (none joins when `measures` is nil: the network as a whole
    /// failed, and nobody is rated for that) and its measures older than
    /// ``GovernanceRules/window`` epochs expire; a record whose latest
    /// measure is that old is forgotten (the node is on probation again);
    /// `slashed` nodes are marked for good.
    public func advanced(committee: Committee, measures: [PublicKey: UInt64]?, slashed: Set<PublicKey>) -> RatingBook {
        let epoch = committee.epoch
        var next = records
        if let measures {
            for validator in committee.validators {
                next[validator.id, default: Record()].window
                    .append(Entry(epoch: epoch, measure: min(measures[validator.id] ?? GovernanceRules.full, GovernanceRules.full)))
            }
        }
        let window = UInt64(GovernanceRules.window)
        for (node, record) in next {
            if committee.contains(node) {
                // Seated: the window slides with the calendar, so one outage is never in it twice.
                let kept = record.window.filter { $0.epoch + window > epoch }
                if kept.isEmpty && !record.slashed { next[node] = nil } else if kept.count != record.window.count { next[node]?.window = kept }
            } else if let latest = record.window.last, latest.epoch + window <= epoch, !record.slashed {
                // Off the committee the record stands as it was, until it is a window old.
                next[node] = nil
            }
        }
        for node in slashed { next[node, default: Record()].slashed = true }
        return RatingBook(records: next)
    }
}

/// What checkpoint body 7 holds: the closing epoch's measures and the book
/// after them.
public struct RatingsBody: Sendable, Hashable {
    public let epoch: UInt64
    /// Each member's measure in the closing epoch; empty when the epoch
    /// failed as a whole (nothing was sampled).
    public let measures: [PublicKey: UInt64]
    public let book: RatingBook

    public init(epoch: UInt64, measures: [PublicKey: UInt64], book: RatingBook) {
        self.epoch = epoch
        self.measures = measures
        self.book = book
    }

    public static let maxRecords = 100_000

    /// CBOR `[epoch, [[node, measure]...], [[node, rating, slashed, [[epoch, measure]...]]...]]`,
    /// both lists sorted by node; `rating` is derived and checked on decoding.
    public func encoded() -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 16 + measures.count * 40 + book.records.count * 120)
        w.writeArrayHeader(3)
        w.writeUnsigned(epoch)
        w.writeArrayHeader(measures.count)
        for (node, measure) in measures.sorted(by: { $0.key < $1.key }) {
            w.writeArrayHeader(2); w.writeBytes(node.rawValue); w.writeUnsigned(measure)
        }
        w.writeArrayHeader(book.records.count)
        for (node, record) in book.records.sorted(by: { $0.key < $1.key }) {
            w.writeArrayHeader(4); w.writeBytes(node.rawValue); w.writeUnsigned(record.rating); w.writeUnsigned(record.slashed ? 1 : 0)
            w.writeArrayHeader(record.window.count)
            for entry in record.window { w.writeArrayHeader(2); w.writeUnsigned(entry.epoch); w.writeUnsigned(entry.measure) }
        }
        return w.bytes
    }

    /// Decodes strictly: sorted distinct nodes, measures at most 1000,
    /// windows of at most ``GovernanceRules/window`` entries in rising
    /// epochs, each rating the one its window gives, nothing after.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: 32 << 20, maxDepth: 5,
                                                            maxItemCount: Self.maxRecords * (8 + 3 * GovernanceRules.window) + 8))
            guard try r.readArrayHeader(maxCount: 3) == 3 else { throw LedgerError("a ratings body is [epoch, measures, records]") }
            let epoch = try r.readUnsigned()
            var measures: [PublicKey: UInt64] = [:]
            var last: PublicKey?
            for _ in 0..<(try r.readArrayHeader(maxCount: Committee.maxValidators)) {
                guard try r.readArrayHeader(maxCount: 2) == 2 else { throw LedgerError("a measure is [node, permille]") }
                let node = PublicKey(try r.readBytes32())
                guard last.map({ $0 < node }) ?? true else { throw LedgerError("the measures are not sorted by node, one each") }
                last = node
                let measure = try r.readUnsigned()
                guard measure <= GovernanceRules.full else { throw LedgerError("a measure of \(measure) permille is over 1000") }
                measures[node] = measure
            }
            var records: [PublicKey: RatingBook.Record] = [:]
            last = nil
            for _ in 0..<(try r.readArrayHeader(maxCount: Self.maxRecords)) {
                guard try r.readArrayHeader(maxCount: 4) == 4 else { throw LedgerError("a rating record is [node, rating, slashed, window]") }
                let node = PublicKey(try r.readBytes32())
                guard last.map({ $0 < node }) ?? true else { throw LedgerError("the rating records are not sorted by node, one each") }
                last = node
                let rating = try r.readUnsigned()
                let slashed = try r.readUnsigned()
                guard slashed <= 1 else { throw LedgerError("a rating record's slashed flag is \(slashed), not 0 or 1") }
                var window: [RatingBook.Entry] = []
                for _ in 0..<(try r.readArrayHeader(maxCount: GovernanceRules.window)) {
                    guard try r.readArrayHeader(maxCount: 2) == 2 else { throw LedgerError("a window entry is [epoch, measure]") }
                    let entry = RatingBook.Entry(epoch: try r.readUnsigned(), measure: try r.readUnsigned())
                    guard entry.measure <= GovernanceRules.full else { throw LedgerError("a measure of \(entry.measure) permille is over 1000") }
                    guard window.last.map({ $0.epoch < entry.epoch }) ?? true else { throw LedgerError("a window's epochs do not rise") }
                    window.append(entry)
                }
                let record = RatingBook.Record(window: window, slashed: slashed == 1)
                guard !window.isEmpty || record.slashed else { throw LedgerError("a rating record holds nothing") }
                guard record.rating == rating else { throw LedgerError("node \(node)'s rating \(rating) is not the \(record.rating) its window gives") }
                records[node] = record
            }
            try r.expectEnd()
            self.init(epoch: epoch, measures: measures, book: RatingBook(records: records))
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("a ratings body is not well-formed: \(error)")
        }
    }
}

/// The network's answer to a device, published on `kognita/<net>/<dev>/ack`.
///
/// Which fields are present depends on ``status``; ``validate()`` holds the
/// rules and both ``encoded()`` and ``init(decoding:)`` apply them:
/// - `accepted` and `final` carry the batch `id` and `seq`; `final` may carry `cert`;
/// - `rejected` carries a `reason`, and `id`, `seq` and `head` when known
///   (a batch too broken to decode has no id or seq to report);
/// - `head` (the reply to `sync`) carries `head`, no `id`, and `seq` equal
///   to the head's next seq.
public struct Ack: Sendable, Hashable {
    /// The contract's status codes (key 2).
    public enum Status: UInt64, Sendable, Hashable, CustomStringConvertible {
        /// Valid, being confirmed.
        case accepted = 0
        /// Certified: final.
        case final = 1
        /// Refused; see the reason.
        case rejected = 2
        /// Reply to sync: the account's head.
        case head = 3
        public var description: String {
            switch self {
            case .accepted: "accepted"
            case .final: "final"
            case .rejected: "rejected"
            case .head: "head"
            }
        }
    }

    /// Longest `detail` text, in UTF-8 bytes.
    public static let maxDetailBytes = 512
    /// Largest `cert`, in bytes.
    public static let maxCertificateBytes = 64 * 1024
    /// Largest encoded ack, in bytes.
    public static let maxEncodedBytes = maxCertificateBytes + 1024

    /// The batch id (key 0); absent on head replies.
    public var id: BatchID?
    /// The batch seq, or the head's next seq on a head reply (key 1).
    public var seq: UInt64?
    /// What the network says (key 2).
    public var status: Status
    /// Why a batch was rejected (key 3); only on rejections.
    public var reason: RejectReason?
    /// Human-readable explanation (key 4).
    public var detail: String?
    /// The account's head (key 5): on head replies, and on rejections when known.
    public var head: AccountHead?
    /// The finality certificate (key 6); only on final acks.
    public var cert: [UInt8]?

    /// An ack; ``validate()`` (run by ``encoded()``) checks the fields fit the status.
    public init(id: BatchID? = nil, seq: UInt64? = nil, status: Status, reason: RejectReason? = nil,
                detail: String? = nil, head: AccountHead? = nil, cert: [UInt8]? = nil) {
        self.id = id
        self.seq = seq
        self.status = status
        self.reason = reason
        self.detail = detail
        self.head = head
        self.cert = cert
    }

    /// Checks which fields the status requires or forbids, and the limits.
    public func validate() throws(ProtocolError) {
        switch status {
        case .accepted, .final:
            guard id != nil else { throw .malformed("ack.id", "an \(status) ack must carry the batch id") }
            guard seq != nil else { throw .malformed("ack.seq", "an \(status) ack must carry the batch seq") }
            guard reason == nil else { throw .malformed("ack.reason", "only a rejected ack carries a reason") }
        case .rejected:
            guard reason != nil else { throw .malformed("ack.reason", "a rejected ack must carry a reason") }
        case .head:
            guard id == nil else { throw .malformed("ack.id", "a head reply carries no batch id") }
            guard let head else { throw .malformed("ack.head", "a head reply must carry the head") }
            guard reason == nil else { throw .malformed("ack.reason", "only a rejected ack carries a reason") }
            if let seq, seq != head.nextSeq {
                throw .malformed("ack.seq", "a head reply's seq (\(seq)) must equal the head's next seq (\(head.nextSeq))")
            }
        }
        if cert != nil && status != .final { throw .malformed("ack.cert", "only a final ack carries a certificate") }
        if let cert, cert.count > Self.maxCertificateBytes {
            throw ProtocolError(.tooLarge, "ack.cert", "certificate is \(cert.count) bytes; the limit is \(Self.maxCertificateBytes)")
        }
    }

    /// The deterministic CBOR encoding, after ``validate()``.
    public func encoded() throws(ProtocolError) -> [UInt8] {
        try validate()
        // Only what we send is held to the detail limit; a device accepts a
        // longer detail rather than drop an ack over a human-readable text.
        if let detail, detail.utf8.count > Self.maxDetailBytes {
            throw .malformed("ack.detail", "detail is \(detail.utf8.count) bytes; the limit is \(Self.maxDetailBytes)")
        }
        var writer = CBORWriter(reservingCapacity: 128 + (cert?.count ?? 0))
        let fields = [id != nil, seq != nil, true, reason != nil, detail != nil, head != nil, cert != nil]
        writer.writeMapHeader(fields.filter { $0 }.count)
        if let id { writer.writeUnsigned(0); writer.writeBytes(id.rawValue) }
        if let seq { writer.writeUnsigned(1); writer.writeUnsigned(seq) }
        writer.writeUnsigned(2); writer.writeUnsigned(status.rawValue)
        if let reason { writer.writeUnsigned(3); writer.writeUnsigned(reason.rawValue) }
        if let detail { writer.writeUnsigned(4); writer.writeText(detail) }
        if let head {
            writer.writeUnsigned(5)
            writer.writeMapHeader(3)
            writer.writeUnsigned(0); writer.writeUnsigned(head.nextSeq)
            writer.writeUnsigned(1); writer.writeBytes(head.lastFinal.rawValue)
            writer.writeUnsigned(2); writer.writeUnsigned(head.balance.baseUnits)
        }
        if let cert { writer.writeUnsigned(6); writer.writeBytes(cert) }
        return writer.bytes
    }

    /// Decodes an ack. Encoding must be deterministic; unknown keys are
    /// skipped, so a device keeps working when a later version adds optional
    /// fields (a batch, which the network must enforce in full, refuses them).
    public init(decoding bytes: [UInt8]) throws(ProtocolError) {
        var reader = try FieldReader(bytes, maxInputSize: Self.maxEncodedBytes, field: "ack")
        let count = try reader.mapHeader("ack")
        var previous: UInt64? = nil
        var status: UInt64?
        var ack = Ack(status: .accepted)
        for _ in 0..<count {
            switch try reader.key(after: &previous, "ack") {
            case 0: ack.id = BatchID(try reader.bytes32("ack.id"))
            case 1: ack.seq = try reader.unsigned("ack.seq")
            case 2: status = try reader.unsigned("ack.status")
            case 3:
                let code = try reader.unsigned("ack.reason")
                guard let reason = RejectReason(rawValue: code) else { throw .malformed("ack.reason", "unknown reason code \(code)") }
                ack.reason = reason
            case 4: ack.detail = try reader.text(maxBytes: Self.maxEncodedBytes, "ack.detail")
            case 5: ack.head = try Self.readHead(&reader)
            case 6:
                let range = try reader.byteStringRange("ack.cert")
                ack.cert = Array(bytes[range])
            default: try reader.skip("ack")
            }
        }
        try reader.expectEnd("ack")
        let code = try require(status, "ack.status", key: 2)
        guard let decoded = Status(rawValue: code) else { throw .malformed("ack.status", "unknown status code \(code)") }
        ack.status = decoded
        try ack.validate()
        self = ack
    }

    private static func readHead(_ reader: inout FieldReader) throws(ProtocolError) -> AccountHead {
        let count = try reader.mapHeader("ack.head")
        var previous: UInt64? = nil
        var next: UInt64?, last: Bytes32?, balance: UInt64?
        for _ in 0..<count {
            switch try reader.key(after: &previous, "ack.head") {
            case 0: next = try reader.unsigned("ack.head.next")
            case 1: last = try reader.bytes32("ack.head.last")
            case 2: balance = try reader.unsigned("ack.head.balance")
            default: try reader.skip("ack.head")
            }
        }
        return AccountHead(nextSeq: try require(next, "ack.head.next", key: 0),
                           lastFinal: BatchID(try require(last, "ack.head.last", key: 1)),
                           balance: Amount(try require(balance, "ack.head.balance", key: 2)))
    }
}

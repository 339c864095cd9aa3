/// A batch: the next block of a device's account chain, the payload it signs.
public struct Batch: Sendable, Hashable {
    /// The first version: payments only (key 0).
    public static let version: UInt64 = 1
    /// Version 2: payments and operations on the account (key 7).
    public static let versionWithOperations: UInt64 = 2
    /// Version 3: version 1 or 2, plus the bridge the device submits through
    /// (key 8), which is paid a share of the fee (docs/ECONOMICS.md).
    public static let versionWithBridge: UInt64 = 3
    /// The most operations in one batch.
    public static let maxOperations = 16

    /// The network the batch is meant for (key 1).
    public var network: NetworkID
    /// 1 for an account's first batch, then +1 each (key 2).
    public var seq: UInt64
    /// Id of the batch at `seq - 1`; zero when `seq` is 1 (key 3).
    public var prev: BatchID
    /// The device's clock, milliseconds since the Unix epoch (key 4).
    public var created: UInt64
    /// Fee offered for the whole batch (key 5).
    public var fee: Amount
    /// Payments (key 6): 1 to 1024 in version 1; 0 to 1024 in version 2,
    /// which needs at least one transfer or operation.
    public var transfers: [Transfer]
    /// Operations on the account (key 7, version 2 only): 1 to 16, applied
    /// in order after the transfers.
    public var operations: [Operation]
    /// The account of the bridge the device submits through (key 8,
    /// version 3 only). The device signs it, so the bridge's share of the fee
    /// cannot be claimed by anyone who merely forwards the batch.
    public var via: AccountID?

    /// A batch; ``validate()`` checks the contract's rules. It is version 3
    /// when it names a bridge, else version 2 when it carries operations,
    /// else version 1.
    public init(network: NetworkID, seq: UInt64, prev: BatchID = .zero, created: UInt64, fee: Amount = .zero,
                transfers: [Transfer], operations: [Operation] = [], via: AccountID? = nil) {
        self.via = via
        self.network = network
        self.seq = seq
        self.prev = prev
        self.created = created
        self.fee = fee
        self.transfers = transfers
        self.operations = operations
    }

    /// The contract version this batch encodes as.
    public var version: UInt64 { via != nil ? Self.versionWithBridge : operations.isEmpty ? Self.version : Self.versionWithOperations }

    /// What the batch takes from the sender's balance: every amount, every
    /// bond, plus the fee. Throws when that exceeds 2^64 - 1 (such a batch is
    /// never valid).
    public func totalDebit() throws(AmountError) -> Amount {
        var total = fee
        for transfer in transfers { total = try total.adding(transfer.amount) }
        for case .bond(let amount) in operations { total = try total.adding(amount) }
        return total
    }

    /// Checks every rule of the contract that needs no ledger state.
    public func validate() throws(ProtocolError) {
        guard seq >= 1 else { throw .malformed("batch.seq", "seq must be at least 1 (the first batch of an account is seq 1)") }
        if seq == 1 && !prev.rawValue.isZero {
            throw .malformed("batch.prev", "prev must be 32 zero bytes when seq is 1")
        }
        guard !transfers.isEmpty || !operations.isEmpty else {
            throw .malformed("batch.transfers", "a batch needs at least 1 transfer (or, in version 2, 1 operation)")
        }
        guard operations.count <= Self.maxOperations else {
            throw ProtocolError(.tooLarge, "batch.operations", "\(operations.count) operations; the limit is \(Self.maxOperations)")
        }
        for (index, operation) in operations.enumerated() { try operation.validate(field: "batch.operations[\(index)]") }
        guard transfers.count <= ProtocolLimits.maxTransfers else {
            throw ProtocolError(.tooLarge, "batch.transfers", "\(transfers.count) transfers; the limit is \(ProtocolLimits.maxTransfers)")
        }
        // Through the buffer, each transfer is borrowed rather than copied.
        try transfers.withUnsafeBufferPointer { (list) throws(ProtocolError) in
            for index in list.indices { try list[index].validate(field: "batch.transfers[\(index)]") }
        }
        do throws(AmountError) { _ = try totalDebit() } catch {
            throw .malformed("batch.transfers", "the amounts, bonds and fee exceed 2^64 - 1 base units")
        }
    }

    /// The deterministic CBOR encoding, after ``validate()``; throws
    /// `too-large` past 64 KiB.
    public func encoded() throws(ProtocolError) -> [UInt8] {
        try validate()
        var writer = CBORWriter(reservingCapacity: 64 + transfers.count * 64)
        writer.writeMapHeader(7 + (operations.isEmpty ? 0 : 1) + (via == nil ? 0 : 1))
        writer.writeUnsigned(0); writer.writeUnsigned(version)
        writer.writeUnsigned(1); writer.writeText(network.rawValue)
        writer.writeUnsigned(2); writer.writeUnsigned(seq)
        writer.writeUnsigned(3); writer.writeBytes(prev.rawValue)
        writer.writeUnsigned(4); writer.writeUnsigned(created)
        writer.writeUnsigned(5); writer.writeUnsigned(fee.baseUnits)
        writer.writeUnsigned(6); writer.writeArrayHeader(transfers.count)
        for transfer in transfers { transfer.write(to: &writer) }
        if !operations.isEmpty {
            writer.writeUnsigned(7); writer.writeArrayHeader(operations.count)
            for operation in operations { operation.write(to: &writer) }
        }
        if let via { writer.writeUnsigned(8); writer.writeBytes(via.rawValue) }
        guard writer.bytes.count <= ProtocolLimits.maxBatchBytes else {
            throw ProtocolError(.tooLarge, "batch", "encoded batch is \(writer.bytes.count) bytes; the limit is \(ProtocolLimits.maxBatchBytes): split it")
        }
        return writer.bytes
    }

    /// Decodes and validates a batch from its exact payload bytes.
    public init(decoding payload: [UInt8]) throws(ProtocolError) {
        guard payload.count <= ProtocolLimits.maxBatchBytes else {
            throw ProtocolError(.tooLarge, "batch", "encoded batch is \(payload.count) bytes; the limit is \(ProtocolLimits.maxBatchBytes)")
        }
        var reader = try FieldReader(payload, maxInputSize: ProtocolLimits.maxBatchBytes, field: "batch")
        let count = try reader.mapHeader("batch")
        var previous: UInt64? = nil
        var version: UInt64?, network: String?, seq: UInt64?, prev: Bytes32?, created: UInt64?, fee: UInt64?
        var transfers: [Transfer]?
        var operations: [Operation]?
        var via: Bytes32?
        for _ in 0..<count {
            switch try reader.key(after: &previous, "batch") {
            case 0:
                version = try reader.unsigned("batch.version")
                guard version == Self.version || version == Self.versionWithOperations || version == Self.versionWithBridge else {
                    throw .malformed("batch.version", "version \(version!) is not supported; this implementation speaks versions 1, 2 and 3")
                }
            case 1: network = try reader.text(maxBytes: NetworkID.maxLength, "batch.network")
            case 2: seq = try reader.unsigned("batch.seq")
            case 3: prev = try reader.bytes32("batch.prev")
            case 4: created = try reader.unsigned("batch.created")
            case 5: fee = try reader.unsigned("batch.fee")
            case 6:
                let n = try reader.arrayHeader("batch.transfers")
                guard n <= ProtocolLimits.maxTransfers else {
                    throw ProtocolError(.tooLarge, "batch.transfers", "\(n) transfers; the limit is \(ProtocolLimits.maxTransfers)")
                }
                var list: [Transfer] = []
                list.reserveCapacity(n)
                for index in 0..<n { try Transfer.read(from: &reader, index: index, into: &list) }
                transfers = list
            case 7 where version == Self.versionWithOperations || version == Self.versionWithBridge:
                let n = try reader.arrayHeader("batch.operations")
                guard n <= Self.maxOperations else {
                    throw ProtocolError(.tooLarge, "batch.operations", "\(n) operations; the limit is \(Self.maxOperations)")
                }
                guard n >= 1 else { throw .malformed("batch.operations", "a version-2 batch has 1 to \(Self.maxOperations) operations") }
                var list: [Operation] = []
                for index in 0..<n { list.append(try Operation.read(from: &reader, index: index)) }
                operations = list
            case 8 where version == Self.versionWithBridge:
                via = try reader.bytes32("batch.via")
            case let key:
                throw .malformed("batch", "unknown key \(key) (a version-1 batch has keys 0-6, a version-2 batch 0-7, a version-3 batch 0-8)")
            }
        }
        try reader.expectEnd("batch")
        let decodedVersion = try require(version, "batch.version", key: 0)
        if decodedVersion == Self.versionWithOperations && operations == nil {
            throw .malformed("batch.operations", "required field is missing (key 7): a version-2 batch carries operations")
        }
        if decodedVersion == Self.versionWithBridge && via == nil {
            throw .malformed("batch.via", "required field is missing (key 8): a version-3 batch names the bridge it is submitted through")
        }
        self.init(
            network: try NetworkID(try require(network, "batch.network", key: 1), field: "batch.network"),
            seq: try require(seq, "batch.seq", key: 2),
            prev: BatchID(try require(prev, "batch.prev", key: 3)),
            created: try require(created, "batch.created", key: 4),
            fee: Amount(try require(fee, "batch.fee", key: 5)),
            transfers: try require(transfers, "batch.transfers", key: 6),
            operations: operations ?? [],
            via: via.map { AccountID($0) })
        try validate()
    }
}

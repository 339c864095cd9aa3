import KognitaCore
import KognitaLedger

/// Every message nodes and their clients exchange after the handshake, in one
/// place (as fastpay keeps its `messages.rs`). Each travels as one encrypted
/// frame holding deterministic CBOR `[type, fields...]`.
public enum PeerMessage: Sendable, Hashable {
    // Client role (bridges, the CLI): pipelined requests, each with an id the
    // client chooses; replies carry it back.

    /// Submit a device's batch (the COSE_Sign1 envelope, as it came off MQTT).
    /// Replies: `accepted`, later `final` with the certificate, or `rejected`.
    case submit(request: UInt64, envelope: [UInt8])
    /// Ask for an account's head. Reply: a `head` ack.
    case headQuery(request: UInt64, account: AccountID)
    /// A reply to a client request: the contract's ack, encoded, so a bridge
    /// can pass it to the device as it is.
    case reply(request: UInt64, ack: [UInt8])

    // Between nodes.

    /// A batch a node received, passed to its peers so the validators vote on it.
    case forward(envelope: [UInt8])
    /// A validator's vote for a list of batches, sent to every peer; whoever
    /// gathers a quorum forms the certificate itself.
    case vote(Vote)
    /// A validator refused a forwarded batch (the forwarder answers its client
    /// once so many refuse that no quorum can form).
    case refusal(batch: BatchKey, reason: RejectReason, detail: String, head: AccountHead)
    /// Catching up: the heads (account, next seq) of accounts after `after`, in id order.
    case headsRequest(request: UInt64, after: AccountID?, limit: UInt32)
    /// A page of heads; `complete` when no account follows.
    case heads(request: UInt64, entries: [AccountSeq], complete: Bool)
    /// Catching up: the final batches of `account` from seq `from`, with their certificates.
    case batchesRequest(request: UInt64, account: AccountID, from: UInt64, limit: UInt32)
    /// A page of final batches in seq order.
    case batches(request: UInt64, entries: [FinalEntry])

    // Epochs (docs/EPOCHS.md, section 4): every validator's messages go to every peer.

    /// A validator sealed its epoch: its signed report.
    case sealReport(SealReport)
    /// A leader's proposal, with the reports its cut rests on.
    case checkpointProposal(CheckpointProposal, reports: [SealReport])
    /// A prevote or precommit on a checkpoint.
    case checkpointVote(CheckpointVote)
    /// A decided checkpoint, with the bodies a node needs to adopt it
    /// (carried locks, transitions; others when the sender has them).
    case checkpoint(LedgerStore.StoredCheckpoint)
    /// Following the chain: the checkpoints from `from` on.
    case checkpointsRequest(request: UInt64, from: UInt64)
    /// Checkpoints in epoch order (an empty list: the sender has none from there).
    case checkpoints(request: UInt64, entries: [LedgerStore.StoredCheckpoint])
    /// A node is caught up: its startup sync is done and it has adopted every
    /// checkpoint before `epoch`. Sent to each node peer when it connects and
    /// after each adoption; validators attest only candidates that are caught
    /// up (docs/EPOCHS.md, section 6).
    case progress(epoch: UInt64)
    /// A proof that a validator voted for two batches at one (account, seq)
    /// (``EquivocationProof``): gossiped to every node, so that every
    /// validator's next seal report carries it.
    case evidence(EquivocationProof)

    /// One account's next seq, as a heads page lists it.
    public struct AccountSeq: Sendable, Hashable {
        public let account: AccountID
        public let nextSeq: UInt64
        public init(account: AccountID, nextSeq: UInt64) {
            self.account = account
            self.nextSeq = nextSeq
        }
    }

    /// A final batch and its certificate, as stored.
    public struct FinalEntry: Sendable, Hashable {
        public let envelope: [UInt8]
        public let certificate: [UInt8]
        public init(envelope: [UInt8], certificate: [UInt8]) {
            self.envelope = envelope
            self.certificate = certificate
        }
    }

    /// The largest frame either side accepts (a batches page or a full vote fits).
    public static let maxFrameBytes = 4 << 20
    /// The most accounts in one heads page.
    public static let maxHeadsPage: UInt32 = 4096
    /// The most batches in one batches page (pages are also cut at ``maxPageBytes``).
    public static let maxBatchesPage: UInt32 = 256
    /// A batches page stops growing at about this many bytes.
    public static let maxPageBytes = 2 << 20
    /// The most checkpoints in one reply.
    public static let maxCheckpointsPage = 16
    /// The most bodies sent with one checkpoint.
    public static let maxBodies = 16

    private enum Kind: UInt64 {
        case submit = 1, headQuery, reply, forward, vote, refusal, headsRequest, heads, batchesRequest, batches
        case sealReport, checkpointProposal, checkpointVote, checkpoint, checkpointsRequest, checkpoints, progress, evidence
    }
}

extension PeerMessage {
    /// The same request with another request id (messages that are not requests are returned as they are).
    public func withRequest(_ id: UInt64) -> PeerMessage {
        switch self {
        case .submit(_, let envelope): .submit(request: id, envelope: envelope)
        case .headQuery(_, let account): .headQuery(request: id, account: account)
        case .headsRequest(_, let after, let limit): .headsRequest(request: id, after: after, limit: limit)
        case .batchesRequest(_, let account, let from, let limit): .batchesRequest(request: id, account: account, from: from, limit: limit)
        case .checkpointsRequest(_, let from): .checkpointsRequest(request: id, from: from)
        default: self
        }
    }

    /// Deterministic CBOR.
    public func encoded() -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 128)
        switch self {
        case let .submit(request, envelope):
            w.writeArrayHeader(3); w.writeUnsigned(Kind.submit.rawValue); w.writeUnsigned(request); w.writeBytes(envelope)
        case let .headQuery(request, account):
            w.writeArrayHeader(3); w.writeUnsigned(Kind.headQuery.rawValue); w.writeUnsigned(request); w.writeBytes(account.rawValue)
        case let .reply(request, ack):
            w.writeArrayHeader(3); w.writeUnsigned(Kind.reply.rawValue); w.writeUnsigned(request); w.writeBytes(ack)
        case let .forward(envelope):
            w.writeArrayHeader(2); w.writeUnsigned(Kind.forward.rawValue); w.writeBytes(envelope)
        case let .vote(vote):
            w.writeArrayHeader(6); w.writeUnsigned(Kind.vote.rawValue)
            w.writeText(vote.network.rawValue); w.writeUnsigned(vote.epoch)
            w.writeBytes(vote.validator.rawValue); w.writeBytes(vote.signature.bytes)
            w.writeArrayHeader(vote.keys.count * 2)
            for key in vote.keys { w.writeBytes(key.account.rawValue); w.writeBytes(key.id.rawValue) }
        case let .refusal(batch, reason, detail, head):
            w.writeArrayHeader(8); w.writeUnsigned(Kind.refusal.rawValue)
            w.writeBytes(batch.account.rawValue); w.writeBytes(batch.id.rawValue)
            w.writeUnsigned(reason.rawValue); w.writeText(truncatedUTF8(detail, maxBytes: Ack.maxDetailBytes))
            w.writeUnsigned(head.nextSeq); w.writeBytes(head.lastFinal.rawValue); w.writeUnsigned(head.balance.baseUnits)
        case let .headsRequest(request, after, limit):
            w.writeArrayHeader(4); w.writeUnsigned(Kind.headsRequest.rawValue); w.writeUnsigned(request)
            if let after { w.writeBytes(after.rawValue) } else { w.writeBytes([UInt8]()) }
            w.writeUnsigned(UInt64(limit))
        case let .heads(request, entries, complete):
            w.writeArrayHeader(4); w.writeUnsigned(Kind.heads.rawValue); w.writeUnsigned(request)
            w.writeArrayHeader(entries.count * 2)
            for entry in entries { w.writeBytes(entry.account.rawValue); w.writeUnsigned(entry.nextSeq) }
            w.writeUnsigned(complete ? 1 : 0)
        case let .batchesRequest(request, account, from, limit):
            w.writeArrayHeader(5); w.writeUnsigned(Kind.batchesRequest.rawValue); w.writeUnsigned(request)
            w.writeBytes(account.rawValue); w.writeUnsigned(from); w.writeUnsigned(UInt64(limit))
        case let .batches(request, entries):
            w.writeArrayHeader(3); w.writeUnsigned(Kind.batches.rawValue); w.writeUnsigned(request)
            w.writeArrayHeader(entries.count * 2)
            for entry in entries { w.writeBytes(entry.envelope); w.writeBytes(entry.certificate) }
        case let .sealReport(report):
            w.writeArrayHeader(2); w.writeUnsigned(Kind.sealReport.rawValue); w.writeBytes(report.encoded())
        case let .checkpointProposal(proposal, reports):
            w.writeArrayHeader(3); w.writeUnsigned(Kind.checkpointProposal.rawValue); w.writeBytes(proposal.encoded())
            w.writeArrayHeader(reports.count)
            for report in reports { w.writeBytes(report.encoded()) }
        case let .checkpointVote(vote):
            w.writeArrayHeader(2); w.writeUnsigned(Kind.checkpointVote.rawValue); w.writeBytes(vote.encoded())
        case let .checkpoint(checkpoint):
            w.writeArrayHeader(3); w.writeUnsigned(Kind.checkpoint.rawValue)
            Self.writeCheckpoint(&w, checkpoint)
        case let .checkpointsRequest(request, from):
            w.writeArrayHeader(3); w.writeUnsigned(Kind.checkpointsRequest.rawValue); w.writeUnsigned(request); w.writeUnsigned(from)
        case let .checkpoints(request, entries):
            w.writeArrayHeader(3); w.writeUnsigned(Kind.checkpoints.rawValue); w.writeUnsigned(request)
            w.writeArrayHeader(entries.count)
            for entry in entries { w.writeArrayHeader(2); Self.writeCheckpoint(&w, entry) }
        case let .progress(epoch):
            w.writeArrayHeader(2); w.writeUnsigned(Kind.progress.rawValue); w.writeUnsigned(epoch)
        case let .evidence(proof):
            w.writeArrayHeader(2); w.writeUnsigned(Kind.evidence.rawValue); w.writeBytes(proof.encoded())
        }
        return w.bytes
    }

    /// `signed, [[kind, bytes]...]` (two items, no array header of their own).
    private static func writeCheckpoint(_ w: inout CBORWriter, _ checkpoint: LedgerStore.StoredCheckpoint) {
        w.writeBytes(checkpoint.signed.encoded())
        let bodies = checkpoint.bodies.sorted { $0.key.rawValue < $1.key.rawValue }
        w.writeArrayHeader(bodies.count)
        for (kind, bytes) in bodies { w.writeArrayHeader(2); w.writeUnsigned(kind.rawValue); w.writeBytes(bytes) }
    }

    private static func readCheckpoint(_ r: inout CBORReader) throws -> LedgerStore.StoredCheckpoint {
        let signed = try SignedCheckpoint(decoding: try r.readByteString())
        var bodies: [CheckpointBodies.Kind: [UInt8]] = [:]
        for _ in 0..<(try r.readArrayHeader(maxCount: maxBodies)) {
            guard try r.readArrayHeader(maxCount: 2) == 2 else { throw PeerProtocolError("a checkpoint body is [kind, bytes]") }
            let kind = try r.readUnsigned(), bytes = try r.readByteString()
            // Kinds this node does not know (a later version's) are not its business.
            guard let known = CheckpointBodies.Kind(rawValue: kind) else { continue }
            guard bodies.updateValue(bytes, forKey: known) == nil else { throw PeerProtocolError("a checkpoint carries body \(kind) twice") }
            guard CheckpointBodies.matches(bytes, kind: known, in: signed.header) else {
                throw PeerProtocolError("a checkpoint's body \(kind) does not match its header")
            }
        }
        return LedgerStore.StoredCheckpoint(signed: signed, bodies: bodies)
    }

    /// Decodes strictly: the exact shape of one message and nothing after it,
    /// every size bounded. Decoding proves nothing about signatures.
    public init(decoding bytes: [UInt8]) throws(PeerProtocolError) {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: Self.maxFrameBytes, maxDepth: 5, maxItemCount: 2 * Int(Self.maxHeadsPage)))
            self = try Self.read(&r)
            try r.expectEnd()
        } catch let error as PeerProtocolError {
            throw error
        } catch {
            throw PeerProtocolError("a peer message is not well-formed: \(error)")
        }
    }

    private static func read(_ r: inout CBORReader) throws -> PeerMessage {
        let count = try r.readArrayHeader(maxCount: 8)
        guard count >= 2, let kind = Kind(rawValue: try r.readUnsigned()) else { throw PeerProtocolError("an unknown peer message type") }
        func expect(_ n: Int) throws { guard count == n else { throw PeerProtocolError("peer message \(kind) has \(count) fields, not \(n)") } }
        func envelope() throws -> [UInt8] {
            let range = try r.readByteStringRange()
            guard range.count <= ProtocolLimits.maxEnvelopeBytes else { throw PeerProtocolError("a batch of \(range.count) bytes is over the limit") }
            return Array(r.bytes[range])
        }
        switch kind {
        case .submit:
            try expect(3); return .submit(request: try r.readUnsigned(), envelope: try envelope())
        case .headQuery:
            try expect(3); return .headQuery(request: try r.readUnsigned(), account: AccountID(try r.readBytes32()))
        case .reply:
            try expect(3)
            let request = try r.readUnsigned(), range = try r.readByteStringRange()
            guard range.count <= Ack.maxEncodedBytes else { throw PeerProtocolError("an ack of \(range.count) bytes is over the limit") }
            return .reply(request: request, ack: Array(r.bytes[range]))
        case .forward:
            try expect(2); return .forward(envelope: try envelope())
        case .vote:
            try expect(6)
            let network = try NetworkID(try r.readText(maxBytes: 64))
            let epoch = try r.readUnsigned()
            let validator = PublicKey(try r.readBytes32())
            let signature = try Signature(bytes: try r.readByteString())
            let n = try r.readArrayHeader(maxCount: 2 * Vote.maxBatches)
            guard n > 0, n % 2 == 0 else { throw PeerProtocolError("a vote's batch list has an odd or zero length") }
            var keys: [BatchKey] = []
            keys.reserveCapacity(n / 2)
            for _ in 0..<(n / 2) { keys.append(BatchKey(account: AccountID(try r.readBytes32()), id: BatchID(try r.readBytes32()))) }
            return .vote(Vote(network: network, epoch: epoch, keys: keys, validator: validator, signature: signature))
        case .refusal:
            try expect(8)
            let key = BatchKey(account: AccountID(try r.readBytes32()), id: BatchID(try r.readBytes32()))
            guard let reason = RejectReason(rawValue: try r.readUnsigned()) else { throw PeerProtocolError("a refusal with an unknown reason") }
            let detail = try r.readText(maxBytes: Ack.maxDetailBytes)
            let head = AccountHead(nextSeq: try r.readUnsigned(), lastFinal: BatchID(try r.readBytes32()), balance: Amount(try r.readUnsigned()))
            return .refusal(batch: key, reason: reason, detail: detail, head: head)
        case .headsRequest:
            try expect(4)
            let request = try r.readUnsigned()
            let afterBytes = try r.readByteString()
            let after: AccountID? = afterBytes.isEmpty ? nil : AccountID(try Bytes32(afterBytes))
            return .headsRequest(request: request, after: after, limit: UInt32(clamping: try r.readUnsigned()))
        case .heads:
            try expect(4)
            let request = try r.readUnsigned()
            let n = try r.readArrayHeader(maxCount: 2 * Int(maxHeadsPage))
            guard n % 2 == 0 else { throw PeerProtocolError("a heads page has an odd length") }
            var entries: [AccountSeq] = []
            entries.reserveCapacity(n / 2)
            for _ in 0..<(n / 2) { entries.append(AccountSeq(account: AccountID(try r.readBytes32()), nextSeq: try r.readUnsigned())) }
            let complete = try r.readUnsigned()
            guard complete <= 1 else { throw PeerProtocolError("a heads page's completion flag is not 0 or 1") }
            return .heads(request: request, entries: entries, complete: complete == 1)
        case .batchesRequest:
            try expect(5)
            return .batchesRequest(request: try r.readUnsigned(), account: AccountID(try r.readBytes32()),
                                   from: try r.readUnsigned(), limit: UInt32(clamping: try r.readUnsigned()))
        case .batches:
            try expect(3)
            let request = try r.readUnsigned()
            let n = try r.readArrayHeader(maxCount: 2 * Int(maxBatchesPage))
            guard n % 2 == 0 else { throw PeerProtocolError("a batches page has an odd length") }
            var entries: [FinalEntry] = []
            for _ in 0..<(n / 2) {
                let envelope = try envelope()
                let range = try r.readByteStringRange()
                guard range.count <= Certificate.maxEncodedBytes else { throw PeerProtocolError("a certificate of \(range.count) bytes is over the limit") }
                entries.append(FinalEntry(envelope: envelope, certificate: Array(r.bytes[range])))
            }
            return .batches(request: request, entries: entries)
        case .sealReport:
            try expect(2); return .sealReport(try SealReport(decoding: try r.readByteString()))
        case .checkpointProposal:
            try expect(3)
            let proposal = try CheckpointProposal(decoding: try r.readByteString())
            var reports: [SealReport] = []
            for _ in 0..<(try r.readArrayHeader(maxCount: Committee.maxValidators)) { reports.append(try SealReport(decoding: try r.readByteString())) }
            return .checkpointProposal(proposal, reports: reports)
        case .checkpointVote:
            try expect(2); return .checkpointVote(try CheckpointVote(decoding: try r.readByteString()))
        case .checkpoint:
            try expect(3); return .checkpoint(try readCheckpoint(&r))
        case .checkpointsRequest:
            try expect(3); return .checkpointsRequest(request: try r.readUnsigned(), from: try r.readUnsigned())
        case .checkpoints:
            try expect(3)
            let request = try r.readUnsigned()
            var entries: [LedgerStore.StoredCheckpoint] = []
            for _ in 0..<(try r.readArrayHeader(maxCount: maxCheckpointsPage)) {
                guard try r.readArrayHeader(maxCount: 2) == 2 else { throw PeerProtocolError("a checkpoint entry is [signed, bodies]") }
                entries.append(try readCheckpoint(&r))
            }
            return .checkpoints(request: request, entries: entries)
        case .progress:
            try expect(2); return .progress(epoch: try r.readUnsigned())
        case .evidence:
            try expect(2)
            let bytes = try r.readByteString()
            do throws(LedgerError) { return .evidence(try EquivocationProof(decoding: bytes)) } catch {
                throw PeerProtocolError("an equivocation proof that does not decode: \(error)")
            }
        }
    }
}

/// `text` cut to at most `maxBytes` of UTF-8 on a character boundary.
func truncatedUTF8(_ text: String, maxBytes: Int) -> String {
    guard text.utf8.count > maxBytes else { return text }
    var result = ""
    for character in text {
        guard result.utf8.count + character.utf8.count <= maxBytes else { break }
        result.append(character)
    }
    return result
}

/// A peer broke the protocol; its connection is closed and counted.
public struct PeerProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

import KognitaCore

/// The bodies of a checkpoint, served apart from its header (docs/EPOCHS.md,
/// section 3). The header commits to each by kind with the BLAKE2b-256 of
/// its deterministic CBOR; devices and light clients never need them.
public struct CheckpointBodies: Sendable, Hashable {
    /// Body kinds. Later issues add ratings, rewards and relay records as new
    /// kinds; a header names each kind at most once.
    public enum Kind: UInt64, Sendable, CaseIterable {
        /// `[[account, next_seq, last_final]...]`, sorted by account.
        case cut = 1
        /// `[[account, seq, [id...]]...]`, sorted by account.
        case carriedLocks = 2
        /// `[[account, bonded, unbonding, unbonded_in, last_seated + 1 | 0,
        /// registration | []]...]`, sorted by account, where a registration
        /// is `[node, [address...], node_signature]`: the signed peer records.
        case stakes = 3
        /// `[fee_pool, burned]` after the payouts.
        case fees = 4
        /// `[seal_report...]`, each as ``SealReport/encoded()``, sorted by validator.
        case sealReports = 5
        /// ``EpochTransitions/encoded()``: released stake and seat marks.
        case transitions = 6
        /// ``RatingsBody/encoded()``: the epoch's measures and the rating book.
        case ratings = 7
        /// ``EpochRewards/encoded()``: the validators' payouts for the epoch.
        case rewards = 8
        /// ``SlashesBody/encoded()``: admitted equivocation proofs and the stake each burns (only when there is one).
        case slashes = 9
    }

    /// Each body's bytes, by kind.
    public let bytes: [Kind: [UInt8]]

    public init(bytes: [Kind: [UInt8]]) { self.bytes = bytes }

    /// The header's `[kind, root]` list.
    public var roots: [CheckpointHeader.BodyRoot] {
        bytes.keys.sorted { $0.rawValue < $1.rawValue }.map { .init(kind: $0.rawValue, root: BLAKE2b256.hash(bytes[$0]!)) }
    }

    /// Whether `body` is the one `header` commits to as `kind`.
    public static func matches(_ body: [UInt8], kind: Kind, in header: CheckpointHeader) -> Bool {
        header.bodies.first { $0.kind == kind.rawValue }?.root == BLAKE2b256.hash(body)
    }

    /// The bodies of a checkpoint whose ledger is `authority` (at the cut, after the epoch transitions).
    public static func make(cut: EpochCut, authority: Authority, transitions: EpochTransitions,
                            ratings: RatingsBody? = nil, rewards: EpochRewards? = nil, slashes: SlashesBody? = nil) -> CheckpointBodies {
        var result: [Kind: [UInt8]] = [:]

        let heads = cut.sortedHeads
        var w = CBORWriter(reservingCapacity: 8 + heads.count * 80)
        w.writeArrayHeader(heads.count)
        for head in heads {
            w.writeArrayHeader(3); w.writeBytes(head.account.rawValue); w.writeUnsigned(head.nextSeq); w.writeBytes(head.lastFinal.rawValue)
        }
        result[.cut] = w.bytes

        let carried = cut.carried.sorted { $0.key < $1.key }
        w = CBORWriter(reservingCapacity: 8 + carried.count * 90)
        w.writeArrayHeader(carried.count)
        for (account, lock) in carried {
            w.writeArrayHeader(3); w.writeBytes(account.rawValue); w.writeUnsigned(lock.seq)
            w.writeArrayHeader(lock.ids.count)
            for id in lock.ids { w.writeBytes(id.rawValue) }
        }
        result[.carriedLocks] = w.bytes

        let stakes = authority.stakes.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }
        w = CBORWriter(reservingCapacity: 8 + stakes.count * 200)
        w.writeArrayHeader(stakes.count)
        for (account, stake) in stakes {
            w.writeArrayHeader(6)
            w.writeBytes(account.rawValue)
            w.writeUnsigned(stake.bonded)
            w.writeUnsigned(stake.unbonding)
            w.writeUnsigned(stake.unbondedIn)
            w.writeUnsigned(stake.lastSeated.map { $0 + 1 } ?? 0)
            if let registration = stake.candidate {
                w.writeArrayHeader(3)
                w.writeBytes(registration.node.rawValue)
                w.writeArrayHeader(registration.addresses.count)
                for address in registration.addresses { w.writeText(address) }
                w.writeBytes(registration.nodeSignature.bytes)
            } else {
                w.writeArrayHeader(0)
            }
        }
        result[.stakes] = w.bytes

        w = CBORWriter(reservingCapacity: 24)
        w.writeArrayHeader(2)
        w.writeUnsigned(authority.feePool.baseUnits)
        w.writeUnsigned(authority.burned.baseUnits)
        result[.fees] = w.bytes

        let reports = cut.reports.map { $0.encoded() }
        w = CBORWriter(reservingCapacity: 8 + reports.reduce(0) { $0 + $1.count + 5 })
        w.writeArrayHeader(reports.count)
        for report in reports { w.writeEncoded(report) }
        result[.sealReports] = w.bytes
        result[.transitions] = transitions.encoded()
        if let ratings { result[.ratings] = ratings.encoded() }
        if let rewards { result[.rewards] = rewards.encoded() }
        if let slashes, !slashes.proofs.isEmpty { result[.slashes] = slashes.encoded() }

        return CheckpointBodies(bytes: result)
    }
}

/// Builds the checkpoint of an epoch from a ledger at its cut: the leader to
/// propose it, every other validator to check a proposal by building the same.
public enum CheckpointBuilder {
    /// The header and bodies closing `authority.committee`'s epoch.
    /// `authority` must hold exactly the cut (``Authority/distance(to:)`` is empty).
    public static func build(authority: Authority, cut: EpochCut, previous: Bytes32, timestamp: UInt64,
                             committees: (UInt64) -> Committee? = { _ in nil })
        -> (header: CheckpointHeader, bodies: CheckpointBodies) {
        var next = authority
        let governance = next.governance(reports: cut.reports, committees: committees)
        let committee = next.nextCommittee(attested: cut.attested, ratings: governance.ratings.book, seed: previous)
        // Slashes first: what is released to an offender is what is left after them (adopters apply
        // the slashes before the transitions, in the same order).
        next.applySlashes(governance.slashes.slashes)
        let transitions = next.transitions(into: committee)
        next.enterEpoch(committee, carried: cut.carried, transitions: transitions, rewards: governance.rewards, ratings: governance.ratings.book)
        let bodies = CheckpointBodies.make(cut: cut, authority: next, transitions: transitions,
                                           ratings: governance.ratings, rewards: governance.rewards, slashes: governance.slashes)
        let header = CheckpointHeader(network: committee.network, epoch: authority.committee.epoch, previous: previous,
                                      timestamp: timestamp, stateRoot: StateRoot(next).root, bodies: bodies.roots,
                                      nextCommittee: committee.validators)
        return (header, bodies)
    }
}

extension Authority {
    /// The committee of the next epoch by the election rule, or the current
    /// one again (renumbered) when nobody can be seated.
    public func nextCommittee(attested: Set<PublicKey>, ratings: RatingBook? = nil, seed: Bytes32 = .zero) -> Committee {
        if let elected = Election.nextCommittee(stakes: stakes, current: committee, attested: attested, rules: rules,
                                                ratings: ratings ?? self.ratings, seed: seed) { return elected }
        // The same validators and weights are a valid committee by construction.
        return try! Committee(network: committee.network, epoch: committee.epoch + 1, validators: committee.validators)
    }

    /// Accounts whose head here differs from the cut: where this node must
    /// fetch certified batches (`have < need`), or cannot build the
    /// checkpoint at all (`have > need`, it applied past the cut).
    public func distance(to cut: EpochCut, touched: Set<AccountID>) -> [AccountID: (have: UInt64, need: UInt64)] {
        var result: [AccountID: (have: UInt64, need: UInt64)] = [:]
        for (account, head) in cut.heads {
            let state = self.state(of: account)
            if state.nextSeq != head.nextSeq || (state.nextSeq == head.nextSeq && state.lastFinal != head.lastFinal) {
                result[account] = (state.nextSeq, head.nextSeq)
            }
        }
        // An account applied this epoch that no report names is past the cut here.
        for account in touched where cut.heads[account] == nil {
            result[account] = (state(of: account).nextSeq, 0)
        }
        return result
    }
}

extension CheckpointBodies {
    /// The most entries a carried-locks body may hold.
    public static let maxCarriedLocks = 1_000_000

    /// Decodes body 2 strictly (sorted distinct accounts, 1 to 16 sorted ids each).
    public static func carriedLocks(decoding bytes: [UInt8]) throws(LedgerError) -> [AccountID: CarriedLock] {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: 256 << 20, maxDepth: 4, maxItemCount: maxCarriedLocks * 8))
            var result: [AccountID: CarriedLock] = [:]
            var last: AccountID?
            for _ in 0..<(try r.readArrayHeader(maxCount: maxCarriedLocks)) {
                guard try r.readArrayHeader(maxCount: 3) == 3 else { throw LedgerError("a carried lock is [account, seq, ids]") }
                let account = AccountID(try r.readBytes32())
                if let last, !(last < account) { throw LedgerError("carried locks are not sorted by account, one each") }
                last = account
                let seq = try r.readUnsigned()
                let count = try r.readArrayHeader(maxCount: 16)
                guard count > 0 else { throw LedgerError("a carried lock names no batch") }
                var ids: [BatchID] = []
                for _ in 0..<count { ids.append(BatchID(try r.readBytes32())) }
                let lock = CarriedLock(seq: seq, ids: ids)
                guard lock.ids == ids else { throw LedgerError("a carried lock's ids are not sorted and distinct") }
                result[account] = lock
            }
            try r.expectEnd()
            return result
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("a carried-locks body is not well-formed: \(error)")
        }
    }
}

extension CheckpointBodies {
    /// The most heads a cut body may hold.
    public static let maxCutHeads = 4_000_000

    /// Decodes body 1 (the cut) strictly: each account's next seq at the checkpoint, sorted by account.
    public static func cutHeads(decoding bytes: [UInt8]) throws(LedgerError) -> [AccountID: UInt64] {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: 512 << 20, maxDepth: 3, maxItemCount: maxCutHeads * 4 + 1))
            var result: [AccountID: UInt64] = [:]
            var last: AccountID?
            for _ in 0..<(try r.readArrayHeader(maxCount: maxCutHeads)) {
                guard try r.readArrayHeader(maxCount: 3) == 3 else { throw LedgerError("a cut head is [account, next_seq, last_final]") }
                let account = AccountID(try r.readBytes32())
                if let last, !(last < account) { throw LedgerError("the cut's heads are not sorted by account, one each") }
                last = account
                result[account] = try r.readUnsigned()
                _ = try r.readBytes32()
            }
            try r.expectEnd()
            return result
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("a cut body is not well-formed: \(error)")
        }
    }

    /// The peer records in body 3 (stakes): each registered node's addresses.
    /// What a bridge needs to reach a committee it learned from a header.
    public static func peerRecords(decoding bytes: [UInt8]) throws(LedgerError) -> [PublicKey: [String]] {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: 256 << 20, maxDepth: 5, maxItemCount: 16_000_000))
            var result: [PublicKey: [String]] = [:]
            for _ in 0..<(try r.readArrayHeader(maxCount: 4_000_000)) {
                guard try r.readArrayHeader(maxCount: 6) == 6 else { throw LedgerError("a stake entry has 6 fields") }
                _ = try r.readBytes32()
                for _ in 0..<4 { _ = try r.readUnsigned() }
                let fields = try r.readArrayHeader(maxCount: 3)
                guard fields == 0 || fields == 3 else { throw LedgerError("a registration is [node, addresses, signature] or empty") }
                if fields == 3 {
                    let node = PublicKey(try r.readBytes32())
                    var addresses: [String] = []
                    for _ in 0..<(try r.readArrayHeader(maxCount: Registration.maxAddresses)) {
                        addresses.append(try r.readText(maxBytes: Registration.maxAddressBytes))
                    }
                    _ = try r.readByteString()
                    result[node] = addresses
                }
            }
            try r.expectEnd()
            return result
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("a stakes body is not well-formed: \(error)")
        }
    }
}

extension CheckpointBodies {
    /// Decodes body 4: `[fee_pool]` (before self-governance) or `[fee_pool, burned]`.
    public static func fees(decoding bytes: [UInt8]) throws(LedgerError) -> (pool: UInt64, burned: UInt64) {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: 64, maxDepth: 2))
            let count = try r.readArrayHeader(maxCount: 2)
            guard count >= 1 else { throw LedgerError("a fees body is [fee_pool, burned]") }
            let pool = try r.readUnsigned()
            let burned = count == 2 ? try r.readUnsigned() : 0
            try r.expectEnd()
            return (pool, burned)
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("a fees body is not well-formed: \(error)")
        }
    }
}

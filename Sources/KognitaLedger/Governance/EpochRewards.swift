import KognitaCore

/// An amount a checkpoint moves for a validator's node, to or from the
/// account that registered it (a payout, a slash).
public struct NodeAmount: Sendable, Hashable {
    public let node: PublicKey
    public let account: AccountID
    public let amount: UInt64
    public init(node: PublicKey, account: AccountID, amount: UInt64) {
        self.node = node
        self.account = account
        self.amount = amount
    }
}

/// What a checkpoint pays the committee of the epoch it closes (body kind
/// 8): the fee pool at the cut, shared by weight × measure, each share to
/// the account that registered the validator's node. Integer division
/// leaves a remainder of a few base units in the pool for the next epoch.
/// (Bridges are paid at once from each fee, burn and relay shares burned
/// at once: ``GovernanceRules/split(fee:hasBridge:)``.)
public struct EpochRewards: Sendable, Hashable {
    public typealias Payout = NodeAmount

    /// The epoch whose work is paid.
    public let epoch: UInt64
    /// Sorted by node, one each, no zero amounts.
    public let payouts: [Payout]

    public init(epoch: UInt64, payouts: [Payout]) {
        self.epoch = epoch
        self.payouts = payouts.filter { $0.amount > 0 }.sorted { $0.node < $1.node }
    }

    public var total: UInt64 { payouts.reduce(0) { $0 + $1.amount } }

    /// The shares of `pool` for `committee`: each member's weight times its
    /// measure (full when the epoch is not measured), paid to `accounts[node]`
    /// (a member without one is not paid; its share stays in the pool).
    public static func compute(pool: UInt64, committee: Committee, measures: [PublicKey: UInt64]?,
                               accounts: [PublicKey: AccountID]) -> EpochRewards {
        let parts = committee.validators.map { validator -> (PublicKey, UInt128) in
            (validator.id, UInt128(validator.weight) * UInt128(measures?[validator.id] ?? GovernanceRules.full))
        }
        let whole = parts.reduce(UInt128(0)) { $0 + $1.1 }
        guard whole > 0 else { return EpochRewards(epoch: committee.epoch, payouts: []) }
        let payouts = parts.compactMap { node, part -> Payout? in
            guard let account = accounts[node] else { return nil }
            return Payout(node: node, account: account, amount: UInt64(UInt128(pool) * part / whole))
        }
        return EpochRewards(epoch: committee.epoch, payouts: payouts)
    }

    /// CBOR `[epoch, [[node, account, amount]...]]`, sorted by node.
    public func encoded() -> [UInt8] {
        var w = CBORWriter(reservingCapacity: 16 + payouts.count * 80)
        w.writeArrayHeader(2)
        w.writeUnsigned(epoch)
        w.writeArrayHeader(payouts.count)
        for payout in payouts {
            w.writeArrayHeader(3); w.writeBytes(payout.node.rawValue); w.writeBytes(payout.account.rawValue); w.writeUnsigned(payout.amount)
        }
        return w.bytes
    }

    /// Decodes strictly: sorted distinct nodes, amounts above zero, a total within 64 bits, nothing after.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        do {
            var r = try CBORReader(bytes, limits: CBORLimits(maxInputSize: 1 << 20, maxDepth: 3, maxItemCount: Committee.maxValidators * 4 + 4))
            guard try r.readArrayHeader(maxCount: 2) == 2 else { throw LedgerError("a rewards body is [epoch, payouts]") }
            let epoch = try r.readUnsigned()
            var payouts: [Payout] = []
            var total: UInt64 = 0
            for _ in 0..<(try r.readArrayHeader(maxCount: Committee.maxValidators)) {
                guard try r.readArrayHeader(maxCount: 3) == 3 else { throw LedgerError("a payout is [node, account, amount]") }
                let payout = Payout(node: PublicKey(try r.readBytes32()), account: AccountID(try r.readBytes32()), amount: try r.readUnsigned())
                guard payouts.last.map({ $0.node < payout.node }) ?? true else { throw LedgerError("the payouts are not sorted by node, one each") }
                guard payout.amount > 0 else { throw LedgerError("a payout of 0") }
                let (sum, overflow) = total.addingReportingOverflow(payout.amount)
                guard !overflow else { throw LedgerError("the payouts add up to more than 2^64 - 1") }
                total = sum
                payouts.append(payout)
            }
            try r.expectEnd()
            self.init(epoch: epoch, payouts: payouts)
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("a rewards body is not well-formed: \(error)")
        }
    }
}

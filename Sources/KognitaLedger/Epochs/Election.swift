import KognitaCore

/// Who sits on the next committee, decided from the ledger at a checkpoint's
/// cut. Pure and deterministic: every node, and an independent script,
/// computes the same committee from the same state.
///
/// The rule of this version (self-governance later replaces "most stake"
/// with ratings and elections):
/// 1. A candidate is a registered node whose account has at least the
///    network's minimum bond, and which no other account also registered.
/// 2. It may be seated when it sits on the current committee, or when
///    validators holding more than a third of the current weight attest that
///    its node is caught up and connected to them (so at least one honest
///    validator says so, and an elected node that never runs cannot stall
///    the network).
/// 3. The seats go to the seatable candidates with the most bonded stake, up
///    to `committee_size`; ties go to the smaller node id.
/// 4. Weights are the bonded stake, capped at the largest value that keeps
///    every weight below a third of the total (possible from 4 seats), so no
///    single validator can block or make a quorum alone however much it bonds.
public enum Election {
    /// The next committee, or nil when no candidate can be seated (the current committee then stays).
    public static func nextCommittee(stakes: [AccountID: Stake], current: Committee, attested: Set<PublicKey>,
                                     rules: EpochRules) -> Committee? {
        // A node that two accounts registered is contested: neither is seated.
        var claims: [PublicKey: Int] = [:]
        for stake in stakes.values { if let node = stake.candidate?.node { claims[node, default: 0] += 1 } }
        var seatable: [(node: PublicKey, bonded: UInt64)] = []
        for stake in stakes.values {
            guard let node = stake.candidate?.node, claims[node] == 1,
                  stake.bonded >= rules.minimumBond.baseUnits, stake.bonded > 0 else { continue }
            guard current.contains(node) || attested.contains(node) else { continue }
            seatable.append((node, stake.bonded))
        }
        seatable.sort { $0.bonded != $1.bonded ? $0.bonded > $1.bonded : $0.node < $1.node }
        let seated = Array(seatable.prefix(max(rules.committeeSize, 1)))
        guard !seated.isEmpty else { return nil }
        let weights = cappedWeights(seated.map(\.bonded))
        return try? Committee(network: current.network, epoch: current.epoch + 1,
                              validators: zip(seated, weights).map { Validator(id: $0.node, weight: $1) })
    }

    /// `stakes` capped so that each is below a third of the capped total: the
    /// largest cap c with 3·c < Σ min(s, c). With fewer than 4 stakes no cap
    /// can do that; they then all get the smallest stake (equal weights).
    /// Weights are scaled down to keep the total well inside 64 bits.
    public static func cappedWeights(_ stakes: [UInt64]) -> [UInt64] {
        guard let smallest = stakes.min(), let largest = stakes.max() else { return [] }
        // Keep the total far from overflow: weights up to 2^40 each.
        let shift = largest > (1 << 40) ? UInt64(64 - (largest >> 40).leadingZeroBitCount) : 0
        let scaled = stakes.map { max($0 >> shift, 1) }
        guard scaled.count >= 4 else { return scaled.map { _ in max(smallest >> shift, 1) } }
        func fits(_ cap: UInt64) -> Bool {
            let total = scaled.reduce(UInt64(0)) { $0 + min($1, cap) }
            return 3 * cap < total
        }
        let top = scaled.max()!
        if fits(top) { return scaled }
        // fits(1) holds with 4 or more stakes; the set where it holds is an interval from 1.
        var low: UInt64 = 1, high = top
        while low + 1 < high {
            let mid = low + (high - low) / 2
            if fits(mid) { low = mid } else { high = mid }
        }
        return scaled.map { min($0, low) }
    }
}

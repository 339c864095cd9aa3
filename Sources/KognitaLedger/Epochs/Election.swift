import KognitaCore

/// Who sits on the next committee, decided from the ledger at a checkpoint's
/// cut. Pure and deterministic: every node, and an independent script,
/// computes the same committee from the same state.
///
/// The rule (docs/EPOCHS.md section 6, docs/ECONOMICS.md "Elections"):
/// 1. A candidate is a registered node whose account has at least the
///    network's minimum bond, and which no other account also registered.
/// 2. It may be seated when it sits on the current committee, or when
///    validators holding more than a third of the current weight attest that
///    its node is caught up and connected to them (so at least one honest
///    validator says so, and an elected node that never runs cannot stall
///    the network). A slashed node, or one rated below
///    ``GovernanceRules/electable``, may not.
/// 3. Its weight is its bonded stake times its rating.
/// 4. Of `committee_size` seats, one in ``GovernanceRules/lotteryDivisor``
///    (rounded down) goes by lottery among the seatable candidates outside
///    the current committee, candidates never seated before drawing first,
///    each group by the lowest BLAKE2b-256 of `seed ‖ node`, where `seed` is the previous checkpoint's digest, which no single
///    party chooses. The other seats, and lottery seats nobody outside
///    claims, go to the highest weights; ties go to the smaller node id.
/// 5. Ratings never shrink the committee below four seats: while fewer
///    candidates are electable, the best-staked poorly rated members of the
///    current committee keep their seats, at their stake.
/// 6. Weights are capped at the largest value that keeps every weight below
///    a third of the total (possible from 4 seats), so no single validator
///    can block or make a quorum alone however much it bonds.
public enum Election {
    /// The next committee, or nil when no candidate can be seated (the current committee then stays).
    public static func nextCommittee(stakes: [AccountID: Stake], current: Committee, attested: Set<PublicKey>,
                                     rules: EpochRules, ratings: RatingBook = RatingBook(), seed: Bytes32 = .zero) -> Committee? {
        // A node that two accounts registered is contested: neither is seated.
        var claims: [PublicKey: Int] = [:]
        for stake in stakes.values { if let node = stake.candidate?.node { claims[node, default: 0] += 1 } }
        var seatable: [(node: PublicKey, weight: UInt64)] = []
        var poorlyRated: [(node: PublicKey, weight: UInt64)] = []
        var neverSat: Set<PublicKey> = []
        for stake in stakes.values {
            guard let node = stake.candidate?.node, claims[node] == 1,
                  stake.bonded >= rules.minimumBond.baseUnits, stake.bonded > 0 else { continue }
            guard current.contains(node) || attested.contains(node) else { continue }
            guard !ratings.isSlashed(node) else { continue }
            let rating = ratings.rating(of: node)
            guard rating >= GovernanceRules.electable else {
                if current.contains(node) { poorlyRated.append((node, stake.bonded)) }
                continue
            }
            let weight = UInt64(UInt128(stake.bonded) * UInt128(rating) / UInt128(GovernanceRules.full))
            seatable.append((node, max(weight, 1)))
            if stake.lastSeated == nil { neverSat.insert(node) }
        }
        seatable.sort { $0.weight != $1.weight ? $0.weight > $1.weight : $0.node < $1.node }
        let seats = max(rules.committeeSize, 1)
        var seated = Array(seatable.prefix(seats - seats / GovernanceRules.lotteryDivisor))
        var rest = Array(seatable.dropFirst(seated.count))
        let draw = { (node: PublicKey) -> Bytes32 in BLAKE2b256.hash(seed.bytes + node.rawValue.bytes) }
        // Newcomers (never seated) draw first, so that one is not kept waiting behind proven validators.
        let outsiders = rest.filter { !current.contains($0.node) }.map { ($0, neverSat.contains($0.node) ? 0 : 1, draw($0.node)) }
            .sorted { ($0.1, $0.2) < ($1.1, $1.2) }.map(\.0)
        for winner in outsiders.prefix(seats - seated.count) {
            seated.append(winner)
            rest.removeAll { $0.node == winner.node }
        }
        seated += rest.prefix(seats - seated.count)
        // Ratings never shrink a committee below four seats: a smaller one
        // tolerates no fault at all, so a member that was away keeps its seat
        // (at its stake) until enough electable candidates can replace it.
        let floor = min(EpochRules.minimumCommitteeSize, seats)
        if seated.count < floor {
            poorlyRated.sort { $0.weight != $1.weight ? $0.weight > $1.weight : $0.node < $1.node }
            seated += poorlyRated.prefix(floor - seated.count)
        }
        guard !seated.isEmpty else { return nil }
        let weights = cappedWeights(seated.map(\.weight))
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

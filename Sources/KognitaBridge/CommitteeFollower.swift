import KognitaCore
import KognitaLedger
import KognitaNode
import Logging

/// Keeps the bridge on the current committee: every few seconds it asks a
/// node it is connected to for the checkpoints after the last one it
/// followed, verifies each against the committee its predecessor named
/// (from genesis: a node cannot make the bridge follow a chain the
/// committees did not sign), and points the pool at the latest committee's
/// members, at the addresses their signed peer records give.
actor CommitteeFollower {
    let genesis: Genesis
    let pool: NodePool
    let logger: Logger
    private var committee: Committee
    private var previous: Bytes32
    private var addresses: [PublicKey: String]

    static let interval = Duration.seconds(5)

    init(genesis: Genesis, pool: NodePool, logger: Logger) throws {
        self.genesis = genesis
        self.pool = pool
        self.logger = logger
        committee = try genesis.committee()
        previous = genesis.digest
        addresses = Dictionary(genesis.validators.map { ($0.id, $0.address) }, uniquingKeysWith: { first, _ in first })
    }

    /// The epoch the bridge follows.
    var epoch: UInt64 { committee.epoch }

    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.interval)
            await followOnce()
        }
    }

    /// Fetches and verifies the checkpoints the bridge has not followed yet; moves the pool when the committee changed.
    func followOnce() async {
        guard let client = await pool.pick() else { return }
        let before = committee
        do {
            while true {
                let from = committee.epoch
                let page = try await client.checkpoints(from: from)
                for entry in page {
                    let header = entry.signed.header
                    guard header.epoch == committee.epoch else { break }
                    guard header.previous == previous else {
                        throw LedgerError("checkpoint \(header.epoch) does not chain to the header before it")
                    }
                    try entry.signed.verify(for: committee)
                    if let stakes = entry.bodies[.stakes] {
                        for (node, list) in try CheckpointBodies.peerRecords(decoding: stakes) { if let first = list.first { addresses[node] = first } }
                    }
                    committee = try header.committee()
                    previous = header.digest
                }
                // Pages are cut by size as well as count: ask again until one brings nothing new.
                if page.isEmpty || committee.epoch == from { break }
            }
        } catch {
            logger.warning("following the checkpoints from \(client.link) failed: \(error)")
        }
        guard committee.validators.map(\.id) != before.validators.map(\.id) else { return }
        let targets = committee.validators.compactMap { validator in
            addresses[validator.id].flatMap(PeerAddress.init).map { DialTarget(identity: validator.id, address: $0) }
        }
        logger.info("following epoch \(committee.epoch): \(committee.validators.count) validators, \(targets.count) reachable")
        await pool.setTargets(targets)
    }
}

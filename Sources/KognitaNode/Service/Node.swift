import Foundation
import KognitaCore
import KognitaLedger
import KognitaSystem
import Logging
import ServiceLifecycle

/// A full node, put together from its configuration: the ledger store, the
/// engine, the peer network, the catch-up service, the HTTP API and (where
/// configured) the faucet, run as one ServiceGroup that shuts down cleanly
/// on SIGTERM or SIGINT.
public enum Node {
    /// Loads everything `configuration` names and runs the node until a signal stops it.
    public static func run(_ configuration: NodeConfiguration, logger: Logger) async throws {
        let genesis = try loadGenesis(configuration.genesisPath)
        let identity: SigningKey
        do throws(KeyFileError) { identity = try KeyFile.load(configuration.identityPath) } catch {
            throw NodeStartError("cannot load the node identity: \(error). Make one with `kognita-node init` or `kognita genesis new`.")
        }
        let genesisCommittee = try genesis.committee()

        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let store = try LedgerStore(path: "\(configuration.dataDirectory)/ledger.sqlite")
        let genesisLedger = try genesis.authority()
        try store.initialise(genesisDigest: genesis.digest, accounts: genesisLedger.accounts, stakes: genesisLedger.stakes)
        let snapshot = try store.load()
        let authority = Authority(committee: genesisCommittee, minimumFee: genesis.minimumFee, rules: genesis.rules, accounts: snapshot.accounts,
                                  stakes: snapshot.stakes, locks: snapshot.locks, carriedLocks: snapshot.carriedLocks,
                                  feePool: snapshot.feePool, feePoolDebt: snapshot.feePoolDebt, unbondingDebt: snapshot.unbondingDebt, burned: snapshot.burned, ratings: snapshot.ratings)
        let metrics = NodeMetrics()
        let committer = GroupCommitter(store: store, onTransaction: { metrics.commitTransactions.increment() })
        let engine = try NodeEngine(genesisCommittee: genesisCommittee, genesisDigest: genesis.digest, start: genesis.startMillis,
                                    checkpoints: snapshot.checkpoints, carried: snapshot.lastCarried,
                                    lastCut: try store.checkpoint(epoch: nil)?.bodies[.cut], touched: snapshot.touched,
                                    ownAgreementMessages: snapshot.agreementMessages,
                                    identity: identity, authority: authority, store: store, committer: committer, metrics: metrics, logger: logger,
                                    dropVotesPermille: configuration.dropVotesPermille)
        if configuration.dropVotesPermille > 0 {
            logger.warning("test fault on: this validator drops \(configuration.dropVotesPermille) permille of its votes ([faults] drop_votes_permille); never use this in production")
        }
        let committee = await engine.committee
        let isValidator = committee.contains(identity.publicKey)
        logger.info("node \(identity.publicKey) on \(genesis.network) as \(isValidator ? "validator" : "full node")", metadata: [
            "genesis": "\(genesis.digest.hex.prefix(16))", "accounts": "\(snapshot.accounts.count)", "locks": "\(snapshot.locks.count)",
            "epoch": "\(committee.epoch)", "data": "\(configuration.dataDirectory)",
        ])

        // Validators connect to the committee members after them in id order
        // (so each pair has one connection); full nodes connect to every
        // member. The committee changes at checkpoints, and so do the targets.
        let genesisAddresses = Dictionary(genesis.validators.map { ($0.id, $0.address) }, uniquingKeysWith: { first, _ in first })
        let me = identity.publicKey
        @Sendable func targets(_ committee: Committee, _ registered: [PublicKey: String]) -> [DialTarget] {
            let dialsAll = !committee.contains(me)
            return committee.validators.compactMap { validator in
                guard validator.id != me, dialsAll || validator.id > me,
                      let address = (registered[validator.id] ?? genesisAddresses[validator.id]).flatMap(PeerAddress.init) else { return nil }
                return DialTarget(identity: validator.id, address: address)
            }
        }
        let plan = DialPlan(targets(committee, await engine.committeeAddresses()))
        await engine.setOnAdopted { committee, registered in plan.set(targets(committee, registered)) }
        let committees = engine.committees
        let peerIdentity = PeerIdentity(key: identity, role: isValidator ? .validator : .fullNode,
                                        policy: HandshakePolicy(network: genesis.network, genesis: genesis.digest,
                                                                acceptsValidator: { committees.wasValidator($0) }))
        let handler = NodePeerHandler(engine: engine, store: store, committees: committees, metrics: metrics, logger: logger)
        let network = PeerNetwork(listen: configuration.peerListen, identity: peerIdentity, plan: plan, handler: handler,
                                  logger: logger, onRejected: { _ in metrics.badFrames.increment() })
        let catchUp = CatchUpService(engine: engine, synchronizer: Synchronizer(engine: engine, committees: committees, logger: logger),
                                     expectedPeers: Set(genesis.validators.map(\.id)).subtracting([identity.publicKey]), logger: logger)
        var services: [any Service] = [network, catchUp, EpochClock(engine: engine)]

        var faucet: Faucet?
        if let path = configuration.faucetKeyPath {
            guard genesis.faucet != nil else { throw NodeStartError("faucet.key is set, but the genesis of \(genesis.network) has no faucet") }
            let key: SigningKey
            do throws(KeyFileError) { key = try KeyFile.load(path) } catch { throw NodeStartError("cannot load the faucet key: \(error)") }
            guard key.publicKey == genesis.faucet else {
                throw NodeStartError("the faucet key \(path) is for account \(key.publicKey), but the genesis faucet is \(genesis.faucet!)")
            }
            faucet = Faucet(key: key, engine: engine, store: store, network: genesis.network, minimumFee: genesis.minimumFee, logger: logger)
        }
        if let address = configuration.apiListen {
            let api = HTTPAPI(engine: engine, store: store, metrics: metrics, genesis: genesis, faucet: faucet)
            services.append(api.application(address: address, logger: logger))
        }
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("stopped", metadata: ["transactions": "\(committer.transactions)"])
    }

    /// Reads and checks `genesis.toml`.
    public static func loadGenesis(_ path: String) throws -> Genesis {
        let bytes: [UInt8]
        do throws(FileError) { bytes = try FileIO.read(path, maxBytes: 4 << 20) } catch {
            throw NodeStartError("cannot read the genesis file: \(error.message)")
        }
        switch Genesis.parse(String(decoding: bytes, as: UTF8.self)) {
        case .success(let genesis): return genesis
        case .failure(let errors): throw NodeStartError("\(path) is not a valid genesis:\n\(errors)")
        }
    }
}

/// The node cannot start; the message says why and what to do.
public struct NodeStartError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

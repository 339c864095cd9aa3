import Foundation
import Hummingbird
import KognitaCore
import KognitaNode
import KognitaSystem
import Logging
import NIOCore
import ServiceLifecycle

/// Loads what a bridge configuration names and runs the bridge with its
/// metrics listener until SIGTERM or SIGINT.
public enum BridgeService {
    public static func run(_ configuration: BridgeConfiguration, logger: Logger) async throws {
        let genesis = try Node.loadGenesis(configuration.genesisPath)
        let identity = try loadOrCreateIdentity(configuration.identityPath, logger: logger)
        var resolved = configuration
        do throws(FileError) { resolved.broker = try configuration.broker.readingPassword(from: configuration.brokerPasswordFile) } catch {
            throw NodeStartError("broker.password_file: \(error.message)")
        }
        let bridge = try Bridge(configuration: resolved, genesis: genesis, identity: identity, logger: logger)
        var services: [any Service] = [bridge]
        if let address = configuration.metricsListen {
            let router = Router(context: BasicRequestContext.self)
            let metrics = bridge.metrics
            router.get("/metrics") { _, _ in
                Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.exposition())))
            }
            services.append(Application(router: router, configuration: .init(address: .hostname(address.host, port: address.port),
                                                                             serverName: "kognita-bridge"), logger: logger))
        }
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The bridge's identity key, made (0600, atomically) on first start.
    static func loadOrCreateIdentity(_ path: String, logger: Logger) throws -> SigningKey {
        let loaded: (key: SigningKey, created: Bool)
        do { loaded = try KeyFile.loadOrCreate(path) } catch { throw NodeStartError("cannot load or create the bridge identity at \(path): \(error)") }
        if loaded.created { logger.info("created the bridge identity \(loaded.key.publicKey) in \(path)") }
        return loaded.key
    }
}

import KognitaCore
import KognitaSystem

/// `node.toml`: where a node finds its identity, genesis and data, and where
/// it listens. Every key may be overridden by `KOGNITA_<SECTION>_<KEY>`;
/// relative paths are relative to the directory of the configuration file.
/// `Config/node.toml` documents each key.
public struct NodeConfiguration: Sendable, Hashable {
    /// The identity key's URI (`file:PATH`); a validator's must be the one in genesis.
    public var identityURI = "file:identity.key"
    public var genesisPath = "genesis.toml"
    public var dataDirectory = "data"
    /// The peer listener: validators, full nodes and clients (bridges) connect here.
    public var peerListen = PeerAddress("0.0.0.0:7401")!
    /// The HTTP API's listener (`GET /metrics` too); 127.0.0.1 by default.
    public var apiListen: PeerAddress? = PeerAddress("127.0.0.1:8401")!
    /// The faucet account's key URI: only on the one node that serves `POST /v1/faucet`.
    public var faucetKeyURI: String?
    /// A test fault, never set in production (`[faults] drop_votes_permille`,
    /// set by the devnet's `--faulty NODE:drop-votes=F`): the share of its
    /// votes, in permille, this validator never casts, to watch its rating
    /// fall and the network vote it out.
    public var dropVotesPermille: UInt64 = 0
    /// `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.
    public var logLevel = "info"

    public init() {}

    public var identityPath: String { String(identityURI.dropFirst("file:".count)) }
    public var faucetKeyPath: String? { faucetKeyURI.map { String($0.dropFirst("file:".count)) } }

    /// Parses `text` (the file at `path`, whose directory anchors relative paths).
    public static func parse(_ text: String, path: String, environment: [String: String] = [:]) -> Result<NodeConfiguration, ConfigurationErrors> {
        var reader: ConfigReader
        switch ConfigReader.parsing(text, environment: environment) {
        case .success(let parsed): reader = parsed
        case .failure(let errors): return .failure(errors)
        }
        func resolve(_ p: String) -> String { ConfigEnvironment.resolve(p, relativeTo: path) }
        func keyURI(_ section: String, _ key: String, _ value: String) -> String? {
            guard value.hasPrefix("file:"), value.count > 5 else {
                reader.fail("\(section).\(key)", "must be a key URI like file:/var/lib/kognita/identity.key (only file: keys are supported)")
                return nil
            }
            return "file:" + resolve(String(value.dropFirst(5)))
        }
        var c = NodeConfiguration()
        c.identityURI = keyURI("node", "identity", reader.string("node", "identity") ?? c.identityURI) ?? c.identityURI
        c.genesisPath = resolve(reader.string("node", "genesis") ?? c.genesisPath)
        c.dataDirectory = resolve(reader.string("node", "data_directory") ?? c.dataDirectory)
        if let level = reader.string("node", "log_level") {
            if ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(level) { c.logLevel = level }
            else { reader.fail("node.log_level", "must be one of trace, debug, info, notice, warning, error, critical") }
        }
        if let listen = reader.string("peer", "listen") {
            if let address = PeerAddress(listen) { c.peerListen = address } else { reader.fail("peer.listen", "must be host:port, for example 0.0.0.0:7401") }
        }
        if let listen = reader.string("api", "listen") {
            if listen.isEmpty { c.apiListen = nil }
            else if let address = PeerAddress(listen) { c.apiListen = address }
            else { reader.fail("api.listen", "must be host:port, for example 127.0.0.1:8401, or empty to turn the API off") }
        }
        if let key = reader.string("faucet", "key"), !key.isEmpty { c.faucetKeyURI = keyURI("faucet", "key", key) }
        c.dropVotesPermille = reader.unsigned("faults", "drop_votes_permille", range: 0...1000) ?? 0
        reader.rejectUnknownKeys()
        return reader.errors.isEmpty ? .success(c) : .failure(ConfigurationErrors(reader.errors))
    }
}

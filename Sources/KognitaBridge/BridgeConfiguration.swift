import KognitaCore
import KognitaMQTT
import KognitaNode
import KognitaSystem

/// `bridge.toml`: the broker, the network, the nodes and the limits.
/// `Config/bridge.toml` documents each key; `KOGNITA_<SECTION>_<KEY>`
/// overrides any of them; relative paths are relative to the file's directory.
public struct BridgeConfiguration: Sendable {
    /// The network's genesis.toml (network id, validators and their addresses).
    public var genesisPath = "genesis.toml"
    /// The bridge's own identity for its node connections (made on first start, 0600).
    public var identityURI = "file:bridge.key"
    /// Bridges of one group share the devices' batches through the broker.
    public var shareGroup = "kognita-bridges"
    /// Batches forwarded and not yet decided, at most; past it devices get `overloaded`.
    public var maxInFlight = 20_000
    /// Per-device sustained batches per second, and burst.
    public var deviceRate = 20.0
    public var deviceBurst = 40.0
    /// Recent batch ids remembered (in flight or final), to answer resends without forwarding.
    public var recentCapacity = 200_000
    public var broker = MQTTConfiguration(clientID: "", sessionExpirySeconds: 86_400, inboundBufferSize: 100_000)
    public var brokerPasswordFile: String?
    /// Nodes to use (`id@host:port`); empty: every genesis validator.
    public var nodes: [DialTarget] = []
    /// The metrics listener (`GET /metrics`); nil: off.
    public var metricsListen: PeerAddress? = PeerAddress("127.0.0.1:9464")
    public var logLevel = "info"

    public init() {}

    public var identityPath: String { String(identityURI.dropFirst("file:".count)) }

    /// Parses `text` (the file at `path`).
    public static func parse(_ text: String, path: String, environment: [String: String] = [:]) -> Result<BridgeConfiguration, ConfigurationErrors> {
        var reader: ConfigReader
        switch ConfigReader.parsing(text, environment: environment) {
        case .success(let parsed): reader = parsed
        case .failure(let errors): return .failure(errors)
        }
        func resolve(_ p: String) -> String { ConfigEnvironment.resolve(p, relativeTo: path) }
        var c = BridgeConfiguration()
        c.genesisPath = resolve(reader.string("bridge", "genesis") ?? c.genesisPath)
        if let identity = reader.string("bridge", "identity") {
            if identity.hasPrefix("file:"), identity.count > 5 { c.identityURI = "file:" + resolve(String(identity.dropFirst(5))) }
            else { reader.fail("bridge.identity", "must be a key URI like file:/var/lib/kognita/bridge.key") }
        } else {
            c.identityURI = "file:" + resolve("bridge.key")
        }
        if let group = reader.string("bridge", "share_group") {
            if !group.isEmpty, group.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) { c.shareGroup = group }
            else { reader.fail("bridge.share_group", "must be letters, digits, '-' or '_' (it is part of a topic filter)") }
        }
        c.maxInFlight = Int(reader.unsigned("bridge", "max_in_flight", range: 1...10_000_000) ?? UInt64(c.maxInFlight))
        c.deviceRate = Double(reader.unsigned("bridge", "device_rate", range: 1...1_000_000) ?? UInt64(c.deviceRate))
        c.deviceBurst = Double(reader.unsigned("bridge", "device_burst", range: 1...1_000_000) ?? UInt64(c.deviceBurst))
        c.recentCapacity = Int(reader.unsigned("bridge", "recent_cache", range: 1_000...100_000_000) ?? UInt64(c.recentCapacity))
        if let level = reader.string("bridge", "log_level") {
            if ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(level) { c.logLevel = level }
            else { reader.fail("bridge.log_level", "must be one of trace, debug, info, notice, warning, error, critical") }
        }
        if let list = reader.string("bridge", "nodes"), !list.isEmpty {
            for entry in list.split(separator: ",").map({ $0.filter { $0 != " " } }) {
                let parts = entry.split(separator: "@", maxSplits: 1)
                guard parts.count == 2, let id = try? PublicKey(hex: String(parts[0])), let address = PeerAddress(String(parts[1])) else {
                    reader.fail("bridge.nodes", "'\(entry)' is not ID@HOST:PORT (the node's identity in hex, its peer address)"); continue
                }
                c.nodes.append(DialTarget(identity: id, address: address))
            }
        }
        var defaults = c.broker
        defaults.clientID = ""
        (c.broker, c.brokerPasswordFile) = MQTTConfiguration.read(&reader, defaults: defaults)
        if let listen = reader.string("metrics", "listen") {
            if listen.isEmpty { c.metricsListen = nil }
            else if let address = PeerAddress(listen) { c.metricsListen = address }
            else { reader.fail("metrics.listen", "must be host:port, or empty to turn metrics off") }
        }
        reader.rejectUnknownKeys()
        return reader.errors.isEmpty ? .success(c) : .failure(ConfigurationErrors(reader.errors))
    }
}

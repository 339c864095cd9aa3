import KognitaCore
import KognitaMQTT
import KognitaSystem

/// The agent's settings: every field has a default; a TOML file overrides
/// them, and environment variables `KOGNITA_<SECTION>_<KEY>` override the file.
public struct AgentConfiguration: Sendable {
    /// A sensor as configured.
    public enum SensorSettings: Sendable, Hashable {
        case file(id: String, path: String, scale: Double, pollMilliseconds: UInt64)
        /// A counter of `milliUnitsPerSecond`; it was at zero at `startedAt` (ms
        /// since the Unix epoch), or when the agent started if nil: then each
        /// start reads as a meter reset.
        case simulated(id: String, milliUnitsPerSecond: Int64, pollMilliseconds: UInt64, startedAt: UInt64? = nil)

        public var id: String {
            switch self { case .file(let id, _, _, _), .simulated(let id, _, _, _): id }
        }

        /// One line for people: what is read, how, and how often.
        public var summary: String {
            switch self {
            case .file(_, let path, let scale, let poll): "file \(path) x \(scale), every \(poll) ms"
            case .simulated(_, let rate, let poll, _): "simulated, \(Double(rate) / 1000) units/s, every \(poll) ms"
            }
        }
    }

    public var network: NetworkID = try! NetworkID("kognita-devnet")
    /// Where the device key lives, as a URI (`file:` is the one scheme so far).
    public var keyURI = "file:/var/lib/kognita/device.key"
    public var stateDirectory = "/var/lib/kognita"
    public var statusFile: String?
    public var fee: UInt64 = 0
    /// The account of the bridge this device submits through (`[agent]
    /// bridge`, hex). When set, batches are version 3 and name it, so the
    /// bridge is paid its share of each fee (docs/ECONOMICS.md).
    public var bridge: AccountID?
    public var broker = MQTTConfiguration(clientID: "")
    /// A file holding the broker password (for example a systemd credential),
    /// read at start so the secret need not sit in the configuration.
    public var brokerPasswordFile: String?
    public var batcher = Batcher.Limits()
    public var spoolCapacityBytes = 16 << 20
    public var uplink = Uplink.Settings()
    public var sensors: [SensorSettings] = []
    public var rules: [PerUnitRule.Settings] = []

    /// The default configuration file.
    public static let defaultPath = "/etc/kognita/agent.toml"

    /// The status file's path (default: `status.json` in the state directory).
    public var resolvedStatusFile: String { statusFile ?? "\(stateDirectory)/status.json" }

    /// The key file path named by ``keyURI``.
    public var keyPath: String { String(keyURI.dropFirst("file:".count)) }

    public init() {}

    /// Parses `text` (TOML) with `environment` overrides. Collects every
    /// problem, each naming its key, so one run of `check-config` shows them all.
    public static func parse(_ text: String, environment: [String: String] = [:]) -> Result<AgentConfiguration, ConfigurationErrors> {
        var reader: ConfigReader
        switch ConfigReader.parsing(text, environment: environment) {
        case .success(let parsed): reader = parsed
        case .failure(let errors): return .failure(errors)
        }
        var c = AgentConfiguration()
        if let network = reader.string("agent", "network") {
            do throws(ProtocolError) { c.network = try NetworkID(network) } catch { reader.fail("agent.network", error.message) }
        }
        if let key = reader.string("agent", "key") {
            if key.hasPrefix("file:") && key.count > 5 { c.keyURI = key } else {
                reader.fail("agent.key", "'\(key)' is not a supported key URI; use file:/path/to/device.key")
            }
        }
        c.stateDirectory = reader.string("agent", "state_directory") ?? c.stateDirectory
        c.statusFile = reader.string("agent", "status_file")
        c.fee = reader.unsigned("agent", "fee") ?? c.fee
        if let bridge = reader.string("agent", "bridge"), !bridge.isEmpty {
            do throws(HexError) { c.bridge = try AccountID(hex: bridge) } catch {
                reader.fail("agent.bridge", "'\(bridge)' is not an account id (64 hex digits): \(error)")
            }
        }

        (c.broker, c.brokerPasswordFile) = MQTTConfiguration.read(&reader, defaults: MQTTConfiguration(clientID: ""))

        c.batcher = Batcher.Limits(
            maxTransfers: Int(reader.unsigned("batch", "max_transfers", range: 1...1024) ?? 256),
            maxBytes: Int(reader.unsigned("batch", "max_bytes", range: 256...65536) ?? 32768),
            maxDelayMilliseconds: reader.unsigned("batch", "max_delay_ms", range: 10...3_600_000) ?? 2000)
        c.spoolCapacityBytes = Int(reader.unsigned("spool", "max_bytes", range: 65536...(1 << 34)) ?? UInt64(c.spoolCapacityBytes))
        c.uplink.maxInFlight = Int(reader.unsigned("uplink", "max_in_flight", range: 1...64) ?? 16)
        c.uplink.resendMilliseconds = reader.unsigned("uplink", "resend_ms", range: 100...600_000) ?? 5000
        c.uplink.maxResendMilliseconds = reader.unsigned("uplink", "max_resend_ms", range: 100...3_600_000) ?? 60000
        c.uplink.fundsHoldMilliseconds = reader.unsigned("uplink", "funds_hold_ms", range: 100...86_400_000) ?? 60000

        var declaredSensorIDs: Set<String> = []
        for (index, sensor) in reader.tables("sensor").enumerated() {
            let at = "sensor[\(index)]"
            // A bad id is reported, and the rest of the sensor still read, so
            // its other keys are judged too (none is called unknown).
            let id = reader.string(sensor, at, "id") ?? ""
            if !id.isEmpty { declaredSensorIDs.insert(id) }
            if id.isEmpty || id.utf8.count > ProtocolLimits.maxSensorBytes {
                reader.fail("\(at).id", "each sensor needs an id of 1 to 64 bytes")
            }
            let poll = reader.unsigned(sensor, at, "poll_ms", range: 10...86_400_000) ?? 1000
            switch reader.string(sensor, at, "kind") ?? "" {
            case "file":
                let scale = reader.float(sensor, at, "scale") ?? 1
                guard let path = reader.string(sensor, at, "path") else { reader.fail("\(at).path", "a file sensor needs the path it reads"); continue }
                c.sensors.append(.file(id: id, path: path, scale: scale, pollMilliseconds: poll))
            case "":
                reader.fail("\(at).kind", "missing: say which kind of sensor, \"file\" or \"simulated\"")
            case "simulated":
                let rate = reader.float(sensor, at, "rate") ?? 1
                guard (0...1e12).contains(rate) else { reader.fail("\(at).rate", "must be between 0 and 1e12 units per second"); continue }
                let startedAt = reader.unsigned(sensor, at, "started_at_ms", range: 0...UInt64(Int64.max))
                c.sensors.append(.simulated(id: id, milliUnitsPerSecond: Int64((rate * 1000).rounded()), pollMilliseconds: poll, startedAt: startedAt))
            case let kind:
                reader.fail("\(at).kind", "'\(kind)' is not a sensor kind; use \"file\" or \"simulated\"")
            }
        }
        let sensorIDs = Set(c.sensors.map { $0.id })
        if sensorIDs.count != c.sensors.count { reader.fail("sensor", "two sensors share an id") }
        for (index, rule) in reader.tables("rule").enumerated() {
            let at = "rule[\(index)]"
            // Every key is read (and so known) before any is judged: a rule
            // with one bad key reports that key, never its good ones as unknown.
            let id = reader.string(rule, at, "id") ?? "rule-\(index)"
            let kind = reader.string(rule, at, "kind") ?? "per_unit"
            let sensor = reader.string(rule, at, "sensor")
            let recipientHex = reader.string(rule, at, "recipient")
            let every = reader.unsigned(rule, at, "every", range: 1...UInt64(Int64.max))
            let price = reader.unsigned(rule, at, "price", range: 1...UInt64.max)
            let cap = reader.unsigned(rule, at, "hourly_cap", range: 1...UInt64.max)
            let dipTolerance = reader.float(rule, at, "dip_tolerance") ?? 0
            let errorsBefore = reader.errors.count
            if kind != "per_unit" { reader.fail("\(at).kind", "only \"per_unit\" rules exist so far") }
            if sensor.map({ !declaredSensorIDs.contains($0) }) ?? true {
                reader.fail("\(at).sensor", "must name one of the configured sensors (\(declaredSensorIDs.sorted().joined(separator: ", ")))")
            }
            let recipient = recipientHex.flatMap { try? AccountID(hex: $0) }
            if recipient == nil { reader.fail("\(at).recipient", "must be an account id: 64 hex characters") }
            for key in ["every", "price", "hourly_cap"] where rule[key] == nil {
                reader.fail("\(at).\(key)", "missing: a rule needs every (units per payment), price (base units per unit) and hourly_cap (base units per clock hour), whole numbers of at least 1")
            }
            if !(0...1e12).contains(dipTolerance) {
                reader.fail("\(at).dip_tolerance", "must be between 0 and 1e12 units (the largest drop of the counter read as noise, not a reset)")
            }
            guard reader.errors.count == errorsBefore, let sensor, let recipient, let every, let price, let cap else { continue }
            c.rules.append(.init(id: id, sensor: sensor, recipient: recipient, everyUnits: every, pricePerUnit: price, hourlyCap: cap,
                                 dipToleranceMilliUnits: Int64((dipTolerance * 1000).rounded())))
        }
        if Set(c.rules.map { $0.id }).count != c.rules.count { reader.fail("rule", "two rules share an id; each rule's state is kept under its id") }
        reader.rejectUnknownKeys()
        return reader.errors.isEmpty ? .success(c) : .failure(ConfigurationErrors(reader.errors))
    }

    /// The effective settings, one per line, secrets masked (for the start-up log).
    public var summary: [String] {
        var lines = [
            "agent.network = \(network)", "agent.key = \(keyURI)", "agent.state_directory = \(stateDirectory)",
            "agent.status_file = \(resolvedStatusFile)", "agent.fee = \(fee)", "agent.bridge = \(bridge.map { "\($0)" } ?? "(none)")",
            "broker = \(broker.host):\(broker.port) (MQTT \(broker.protocolVersion == .v5 ? "5" : "3.1.1"), TLS \(broker.tls == nil ? "off" : "on"))",
            "broker.username = \(broker.username ?? "(the device id)")", "broker.password = \(brokerPasswordFile.map { "(from \($0))" } ?? (broker.password == nil ? "(none)" : "********"))",
            "batch = at most \(batcher.maxTransfers) transfers, \(batcher.maxBytes) bytes, \(batcher.maxDelayMilliseconds) ms",
            "spool.max_bytes = \(spoolCapacityBytes)",
        ]
        lines += sensors.map { "sensor \($0.id): \($0.summary)" }
        lines += rules.map { "rule \($0.id): every \($0.everyUnits) units of \($0.sensor) pays \($0.pricePerUnit)/unit to \($0.recipient.hex.prefix(12))..., cap \($0.hourlyCap)/h, \($0.dipToleranceMilliUnits == 0 ? "every drop is a reset" : "drops up to \(Double($0.dipToleranceMilliUnits) / 1000) units are noise")" }
        return lines
    }
}

extension AgentConfiguration {
    /// The configuration with secrets kept in files read in: the broker
    /// password from ``brokerPasswordFile`` (which must be private, mode 0600
    /// or stricter; one trailing newline is ignored).
    public func resolvingSecretFiles() throws(FileError) -> AgentConfiguration {
        var resolved = self
        resolved.broker = try broker.readingPassword(from: brokerPasswordFile)
        return resolved
    }
}


import KognitaCore
import KognitaMQTT
import KognitaSystem
#if canImport(Glibc)
import Glibc
#endif

/// Why the agent cannot start or has to stop (its spool cannot be written,
/// its key cannot be read): the description says what and what to do.
public struct AgentError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
    init(_ error: some CustomStringConvertible) { description = error.description }
}

/// The agent's behaviour, whatever drives it: sensors feed rules, rules feed
/// the batcher, closed batches are signed into the spool, and the uplink
/// sends them until final. It is told what happened (an MQTT message or
/// event, a tick, a drain, a stop) and acts; it never waits.
///
/// Two drivers call it, always from one thread or task at a time, so it needs
/// no locks: ``AgentLoop`` (a poll(2) loop, the `kognita-agent` program, also
/// in its embedded build) and ``AgentRuntime`` (Swift concurrency, for a host
/// running many agents in one process, such as the devnet).
public final class AgentCore {
    /// What an agent did, for a host that runs many agents in one process
    /// (the devnet) and keeps score of them.
    public enum Activity: Sendable {
        /// The rules made this many transfers from a reading (they go into
        /// the open batch; ``spooled(_:rechained:)`` follows when it closes).
        case produced(Int)
        /// A batch is durable in the spool: new transfers (`rechained` false),
        /// or transfers of superseded batches signed again on a new chain.
        case spooled(SignedBatch, rechained: Bool)
        /// These batches left the chain; their transfers were spooled again.
        case superseded([BatchID])
        /// A batch was published (first time or a resend).
        case published(BatchID)
        /// The network said this batch is final.
        case final(BatchID)
        /// The network refused a batch (or the device) for this reason.
        case rejected(RejectReason)
        /// A batch was set aside for a person.
        case setAside(BatchID)
        /// The broker connection went up or down.
        case connection(Bool)
    }

    /// How a host runs the agent; the defaults are the `kognita-agent` program's.
    public struct Options: Sendable {
        /// Hears every ``Activity``, on the agent's loop: it must return quickly.
        public var observer: (@Sendable (Activity, _ now: UInt64) -> Void)?
        /// Written before every log line (a host of many agents names the device).
        public var logPrefix = ""
        /// Whether the JSON status file is written (a host that observes does not need it).
        public var writesStatusFile = true
        /// Whether the host ticks the agent itself (``AgentRuntime/Control/tick()``,
        /// every 100 ms) instead of the agent keeping a timer of its own: a host
        /// of many agents ticks them all from one timer.
        public var hostTicks = false
        public init() {}
    }

    public let configuration: AgentConfiguration
    public let key: SigningKey
    private let spool: Spool
    private var rules: RuleBook
    private var batcher: Batcher
    private var uplink: Uplink
    private let sensors: [AnySensor]
    private var nextPoll: [String: UInt64] = [:]
    private let client: MQTTClient
    private let topics: (batch: String, ack: String, sync: String, state: String)
    /// What the state topic says once the agent is gone: its last will, and
    /// what it publishes itself before a clean stop.
    private static let offline = Array("offline".utf8)
    private var status = AgentStatus()
    private var statusWrittenAt: UInt64 = 0
    private var statusDirty = true
    /// How the host runs this agent.
    public let options: Options
    private let log: AgentLog.Prefixed
    /// After ``drain()``: sensors are no longer read; the uplink carries on.
    private var draining = false

    /// Loads (or creates) the key, opens the spool and prepares the MQTT client
    /// (whose messages and events go to `inbox` when one is given).
    public init(_ configuration: AgentConfiguration, options: Options = Options(), inbox: MQTTInbox? = nil) throws(AgentError) {
        self.configuration = configuration
        self.options = options
        log = AgentLog.Prefixed(options.logPrefix)
        mkdir(configuration.stateDirectory, 0o700)
        do throws(KeyFileError) { key = try Self.loadOrCreateKey(at: configuration.keyPath) } catch { throw AgentError(error) }
        do throws(SpoolError) {
            spool = try Spool(directory: configuration.stateDirectory, capacityBytes: configuration.spoolCapacityBytes)
        } catch { throw AgentError(error) }
        let device = key.publicKey
        if let foreign = spool.pending.first(where: { $0.signer != device }) {
            throw AgentError("the spool in \(configuration.stateDirectory) holds batches of device \(foreign.signer.hex), "
                + "but the key at \(configuration.keyPath) is device \(device.hex): the key file was replaced. "
                + "Restore the original key (its batches are unpaid until they are final), or move the state directory aside to start a new device")
        }
        if !spool.recovery.dropped.isEmpty {
            log.warning("spool repaired on start: dropped \(spool.recovery.dropped.map { "\($0.count) bytes at \($0.lowerBound)" }.joined(separator: ", "))\(spool.recovery.tornTailOnly ? " (a torn last record, from a crash mid-write)" : " (damaged records)"); kept \(spool.recovery.records) records")
        }
        if options.writesStatusFile {
            // The status file is rewritten every second; a crash mid-write
            // leaves a small temporary. Only this agent writes it (it holds
            // the spool's lock), so any found now is abandoned.
            FileIO.removeAbandonedTemporaries(of: configuration.resolvedStatusFile)
        }
        if spool.recovery.abandonedTemporaries > 0 {
            log.info("spool: removed \(spool.recovery.abandonedTemporaries) leftover file(s) of a compaction cut short by a crash; the journal itself is intact")
        }
        rules = RuleBook(configuration.rules, resumingFrom: spool.ruleState)
        batcher = Batcher(limits: configuration.batcher)
        uplink = Uplink(pending: spool.pending, provenNextSeq: spool.provenNextSeq, settings: configuration.uplink)
        let now = currentMilliseconds()
        sensors = configuration.sensors.map { settings -> AnySensor in
            switch settings {
            case .file(let id, let path, let scale, let poll): .file(FileSensor(id: id, path: path, scale: scale, pollIntervalMilliseconds: poll))
            case .simulated(let id, let rate, let poll, let startedAt): .simulated(SimulatedSensor(id: id, milliUnitsPerSecond: rate, startedAt: startedAt ?? now, pollIntervalMilliseconds: poll))
            }
        }
        let base = "kognita/\(configuration.network)/\(device.hex)"
        topics = ("\(base)/batch", "\(base)/ack", "\(base)/sync", "\(base)/state")
        var mqtt = configuration.broker
        if mqtt.clientID.isEmpty { mqtt.clientID = "kognita-agent-\(device.hex.prefix(16))" }
        if mqtt.username == nil { mqtt.username = device.hex } // the broker's ACL is keyed on the device id
        mqtt.will = .init(topic: topics.state, payload: Self.offline, qos: 1, retain: true)
        do throws(MQTTError) { client = try MQTTClient(mqtt, inbox: inbox) } catch { throw AgentError(error) }
        status.device = device.hex
        status.network = configuration.network.rawValue
    }

    /// Loads the device key at `path`, or makes one there (mode 0600,
    /// atomically) when there is none: the agent's identity is created on
    /// first use, and `kognita-agent device-id` can create it ahead of the first
    /// start to register the device with the broker.
    public static func loadOrCreateKey(at path: String) throws(KeyFileError) -> SigningKey {
        let (key, created) = try KeyFile.loadOrCreate(path)
        if created { AgentLog.info("created a new device key at \(path): device id \(key.publicKey.hex)") }
        return key
    }

    /// Logs the effective settings and starts the MQTT client (which
    /// connects, and keeps reconnecting, on its own thread).
    public func start() {
        for line in configuration.summary { log.info(line) }
        log.info("device \(key.publicKey.hex); \(spool.pending.count) batches pending from the spool")
        client.start()
    }

    /// The MQTT client, for a driver that reads its streams.
    public var mqtt: MQTTClient { client }

    /// Stops reading sensors and closes the open batch; batches already
    /// spooled are still sent until final.
    public func drain(now: UInt64) throws(AgentError) {
        draining = true
        if !spool.isFull { try close(batcher.take(), now: now) }
    }

    // MARK: - Events

    /// A connection event from the MQTT client.
    public func handle(_ event: MQTTEvent, now: UInt64) throws(AgentError) {
        switch event {
        case .connected(let sessionPresent):
            log.info("connected to the broker (session \(sessionPresent ? "resumed" : "new"))")
            status.brokerConnected = true
            options.observer?(.connection(true), now)
            // Neither waits: a refusal (the broker's ACL) comes back as an
            // .operationRefused event. Both are made again on every connect
            // (libmosquitto drops a SUBSCRIBE in flight when the connection
            // goes; "online" is retained, so a second copy is harmless).
            do throws(MQTTError) {
                try client.subscribeWithoutWaiting([topics.ack])
                try client.send(topics.state, payload: Array("online".utf8), qos: 1, retain: true)
            } catch { log.error("after connecting: \(error)") }
            try perform(uplink.connected(now: now), now: now)
        case .refused(let code, let description):
            status.brokerConnected = false
            status.lastError = "broker refused the connection: \(description) (\(code)); check broker.username, broker.password and the broker's ACL"
            log.error(status.lastError!)
        case .disconnected(let description):
            if status.brokerConnected { log.warning(description); options.observer?(.connection(false), now) }
            status.brokerConnected = false
        case .operationRefused(let description):
            status.lastError = description
            log.error(description)
        }
        statusDirty = true
    }

    /// A message from the broker (acks on the ack topic; anything else is ignored).
    public func handle(_ message: MQTTMessage, now: UInt64) throws(AgentError) {
        // Acks are never retained by a correct bridge; a retained one is an old replay.
        guard message.topic == topics.ack, !message.retained else { return }
        let ack: Ack
        do throws(ProtocolError) { ack = try Ack(decoding: message.payload) } catch {
            log.warning("ignoring an ack that does not decode: \(error)")
            return
        }
        if ack.status == .final, let seq = ack.seq { status.lastFinalSeq = max(status.lastFinalSeq ?? 0, seq) }
        if ack.status == .rejected, let reason = ack.reason { options.observer?(.rejected(reason), now) }
        try perform(uplink.received(ack, now: now), now: now)
        statusDirty = true
    }

    /// Time passed (drivers call this every 100 ms): sensors due are read,
    /// the open batch closes when due, and the uplink resends what is due.
    public func tick(now: UInt64) throws(AgentError) {
        for sensor in sensors where !draining && now >= nextPoll[sensor.id, default: 0] {
            nextPoll[sensor.id] = now + sensor.pollIntervalMilliseconds
            let reading: Reading
            do throws(SensorError) { reading = try sensor.read(now: now) } catch {
                status.lastError = error.description
                log.warning(error.description)
                continue
            }
            try observe(sensor: sensor.id, reading, now: now)
        }
        if let closed = batcher.tick(now: now) { try close(closed, now: now) }
        try perform(uplink.tick(now: now), now: now)
    }

    private func observe(sensor: String, _ reading: Reading, now: UInt64) throws(AgentError) {
        let watching = rules.rules.filter { $0.settings.sensor == sensor }.count
        guard watching > 0 else { return }
        // Close first if this reading's transfers might not fit (see Batcher.hasRoom).
        if !batcher.hasRoom(forTransfers: watching) && !spool.isFull { try close(batcher.take(), now: now) }
        let mayPay = batcher.hasRoom(forTransfers: watching) && !spool.isFull
        let unbaselined = rules.rulesWithoutBaseline
        let due = rules.observe(sensor: sensor, reading, mayPay: mayPay)
        for (rule, reset) in rules.resets(of: sensor) {
            // Worth a person's eye: a real restart of the meter, or noise
            // that a dip_tolerance should absorb (it would be paid again).
            log.info("rule \(rule): sensor \(sensor) went from \(Double(reset.from) / 1000) to \(Double(reset.to) / 1000) units; read as a counter reset, "
                + "so what it shows now is paid as new consumption (if the sensor only jitters, set the rule's dip_tolerance above such drops)")
        }
        let baselined = unbaselined.subtracting(rules.rulesWithoutBaseline)
        if !baselined.isEmpty {
            // A first reading is the baseline: nothing before it is paid, and
            // everything after it must be, across crashes. Make it durable now.
            try spooling { () throws(SpoolError) in try spool.checkpoint(ruleState: rules.snapshot(of: baselined, over: spool.ruleState)) }
        }
        status.transfersProduced += UInt64(due.count)
        if !due.isEmpty { options.observer?(.produced(due.count), now) }
        for transfer in due {
            if let closed = batcher.add(transfer, now: now) { try close(closed, now: now) }
        }
        statusDirty = statusDirty || !due.isEmpty
    }

    /// Signs the transfers as the next batch of the chain and spools it
    /// (durable), together with the rule state that produced them.
    private func close(_ transfers: [Transfer], now: UInt64) throws(AgentError) {
        guard !transfers.isEmpty else { return }
        let signed = try sign(transfers, seq: spool.nextSeq, prev: spool.prev, now: now)
        try spooling { () throws(SpoolError) in try spool.append(signed, ruleState: rules.snapshot()) }
        options.observer?(.spooled(signed, rechained: false), now)
        try perform(uplink.spooled(signed, now: now), now: now)
        statusDirty = true
    }

    private func sign(_ transfers: [Transfer], seq: UInt64, prev: BatchID, now: UInt64) throws(AgentError) -> SignedBatch {
        let batch = Batch(network: configuration.network, seq: seq, prev: prev, created: now,
                          fee: Amount(configuration.fee), transfers: transfers, via: configuration.bridge)
        do throws(ProtocolError) { return try SignedBatch.sign(batch, with: key) } catch { throw AgentError("cannot sign batch \(batch.seq): \(error)") }
    }

    private func perform(_ actions: [Uplink.Action], now: UInt64) throws(AgentError) {
        for action in actions {
            switch action {
            case .publish(let batch):
                // While disconnected, do not pile copies into libmosquitto's
                // queue: the uplink resends everything on reconnect.
                guard status.brokerConnected else { continue }
                // Queued straight from this loop, so batches go out in chain order.
                options.observer?(.published(batch.id), now)
                do throws(MQTTError) { try client.send(topics.batch, payload: batch.envelope) } catch {
                    log.warning("publish of batch \(batch.batch.seq) failed: \(error) (it will be resent)")
                }
            case .requestSync:
                try? client.send(topics.sync, payload: [])
            case .markFinal(let id):
                try spooling { () throws(SpoolError) in try spool.markFinal(id) }
                status.batchesFinal += 1
                options.observer?(.final(id), now)
            case .rechain(let superseded, let nextSeq, let prev):
                log.warning("re-chaining \(superseded.count) batches from seq \(nextSeq): the network's chain moved on without them")
                // The same transfers, re-signed on top of the network's head,
                // spooled together with the removal of the old batches in one
                // record: a crash half-way can neither lose nor duplicate them.
                var replacements: [SignedBatch] = []
                var seq = nextSeq, previous = prev
                for old in superseded {
                    let signed = try sign(old.batch.transfers, seq: seq, prev: previous, now: now)
                    replacements.append(signed)
                    seq += 1
                    previous = signed.id
                }
                try spooling { () throws(SpoolError) in
                    try spool.rechain(superseding: superseded.map { $0.id }, nextSeq: nextSeq, lastFinal: prev, replacements: replacements)
                }
                options.observer?(.superseded(superseded.map { $0.id }), now)
                for signed in replacements {
                    options.observer?(.spooled(signed, rechained: true), now)
                    try perform(uplink.spooled(signed, now: now), now: now)
                }
            case .setAside(let id, let reason, let detail):
                try spooling { () throws(SpoolError) in try spool.setAside(id, reason: reason.name) }
                options.observer?(.setAside(id), now)
                let message = "the network refused batch \(id.hex) as \(reason)\(detail.isEmpty ? "" : " (\(detail))"); it is kept in \(spool.setAsideDirectory) and will not be resent: this needs a person"
                status.lastError = message
                log.error(message)
            }
        }
    }

    /// Closes and spools the open batch, disconnects, and writes the final status.
    public func shutdown(now: UInt64) throws(AgentError) {
        log.info("stopping")
        if !spool.isFull { try close(batcher.take(), now: now) }
        if status.brokerConnected {
            // A clean DISCONNECT makes the broker discard the last will, so
            // the agent says "offline" itself; it goes out ahead of the
            // DISCONNECT on the same connection.
            do throws(MQTTError) { try client.send(topics.state, payload: Self.offline, qos: 1, retain: true) } catch {
                log.warning("could not say offline before stopping: \(error)")
            }
        }
        client.stop()
        // The status file outlives the process: it must not say connected.
        status.brokerConnected = false
        statusDirty = true
        writeStatusIfDue(now: now, force: true)
    }

    /// A spool write that failed stops the agent: without its journal it
    /// could neither keep nor prove what it owes.
    private func spooling(_ write: () throws(SpoolError) -> Void) throws(AgentError) {
        do throws(SpoolError) { try write() } catch { throw AgentError(error) }
    }

    // MARK: - Status

    /// Writes the status file at most once a second while something changed (or now, when forced).
    public func writeStatusIfDue(now: UInt64, force: Bool = false) {
        guard options.writesStatusFile else { return }
        guard force || (statusDirty && now >= statusWrittenAt + 1000) else { return }
        let pending = spool.pending
        status.pendingBatches = pending.count
        status.pendingTransfers = pending.reduce(0) { $0 + $1.batch.transfers.count }
        status.openTransfers = batcher.open.count
        status.spoolBytes = spool.size
        status.spoolFull = spool.isFull
        status.setAside = spool.setAside.count
        status.balance = uplink.status.lastHead?.balance.baseUnits
        status.holding = uplink.status.holdingUntil.map { "insufficient funds (balance \(uplink.status.lastHead?.balance.description ?? "?")); retrying at \($0)" }
        if let error = uplink.status.lastError { status.lastError = error }
        status.updatedAt = now
        do throws(FileError) {
            // Atomic (rename) but not fsynced: it is rewritten every second, and SD cards wear out.
            try FileIO.writeAtomically(Array(status.json.utf8), to: configuration.resolvedStatusFile, mode: 0o644, replace: true, durable: false)
        } catch { log.warning("cannot write the status file: \(error)") }
        statusWrittenAt = now
        statusDirty = false
    }
}

import KognitaCore
import KognitaLedger
import KognitaMQTT
import KognitaNode
import Logging
import ServiceLifecycle
import Synchronization

/// The bridge between a fleet's MQTT broker and the nodes. It takes each
/// device's batches from the shared subscription, checks them the way the
/// contract says (size, decoding, signature, the kid is the topic's device,
/// the network), forwards good ones to a node, and publishes every answer on
/// the device's ack topic at QoS 1: `accepted`, then `final` with the
/// certificate or `rejected` with reason and head.
///
/// libmosquitto acknowledges a QoS 1 message before the bridge has handled
/// it, so the bridge's ack is the only one that counts: anything it cannot
/// take (too much in flight, a device over its rate, no node reachable) is
/// answered `overloaded`, and the device keeps the batch and resends.
public final class Bridge: Service, Sendable {
    public let configuration: BridgeConfiguration
    public let genesis: Genesis
    public let metrics: BridgeMetrics
    let pool: NodePool
    let mqtt: MQTTClient
    let logger: Logger
    private let state: Mutex<State>

    struct State {
        var recent: BoundedMap<BatchKey, Recent>
        var limiter: DeviceRateLimiter<AccountID>
        var inFlight = 0
    }

    enum Recent {
        /// Forwarded at this time, not decided yet.
        case inFlight(ContinuousClock.Instant)
        /// Final: the ack to send again on a resend.
        case final([UInt8])
    }

    /// A forwarded batch that gets no decision in this long is given up
    /// (the device resends; the network is idempotent).
    static let decisionTimeout = Duration.seconds(60)
    /// A resend of a batch in flight this long is forwarded again.
    static let inFlightRetry = Duration.seconds(30)

    public init(configuration: BridgeConfiguration, genesis: Genesis, identity: SigningKey, logger: Logger) throws {
        self.configuration = configuration
        self.genesis = genesis
        self.logger = logger
        let metrics = BridgeMetrics()
        self.metrics = metrics
        var broker = configuration.broker
        if broker.clientID.isEmpty { broker.clientID = "kognita-bridge-\(identity.publicKey.hex.prefix(16))" }
        broker.cleanStart = false
        mqtt = try MQTTClient(broker)
        let targets = configuration.nodes.isEmpty
            ? genesis.validators.compactMap { v in PeerAddress(v.address).map { DialTarget(identity: v.id, address: $0) } }
            : configuration.nodes
        pool = NodePool(targets: targets, identity: identity, genesis: genesis, logger: logger,
                        onFailover: { metrics.failovers.increment() })
        state = Mutex(State(recent: BoundedMap(capacity: configuration.recentCapacity),
                            limiter: DeviceRateLimiter(rate: configuration.deviceRate, burst: configuration.deviceBurst)))
    }

    public func run() async throws {
        let nodes = await pool.targets.count
        logger.info("bridge for \(genesis.network) on broker \(configuration.broker.host):\(configuration.broker.port), group \(configuration.shareGroup), \(nodes) nodes")
        let filters = DeviceTopic.bridgeFilters(network: genesis.network, group: configuration.shareGroup)
        await withDiscardingTaskGroup { group in
            group.addTask { await self.pool.run() }
            // Configured nodes are the operator's choice; otherwise the bridge follows the committee.
            if configuration.nodes.isEmpty, let follower = try? CommitteeFollower(genesis: genesis, pool: pool, logger: logger) {
                group.addTask { await follower.run() }
            }
            // A bridge that takes batches before it reaches a node can only
            // answer 'overloaded' to each (a restarted bridge is handed the
            // whole backlog the broker kept for it), and every device then
            // backs off: connect to the broker once a node is reachable, or
            // after a few seconds without one.
            let deadline = ContinuousClock.now + .seconds(5)
            while await self.pool.connectedCount == 0 && ContinuousClock.now < deadline && !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
            }
            mqtt.start()
            group.addTask {
                // Restored by the client after every reconnect; this waits for the first SUBACK.
                do { try await self.mqtt.subscribe(filters) } catch { self.logger.error("subscribing to \(filters) failed: \(error)") }
            }
            group.addTask {
                for await event in self.mqtt.events { self.logger.info("broker: \(event)") }
            }
            group.addTask {
                while !Task.isCancelled {
                    self.metrics.nodesConnected.set(Double(await self.pool.connectedCount))
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            // Stopping the client on shutdown ends the message stream, then the rest.
            await withGracefulShutdownHandler {
                for await message in self.mqtt.messages { self.handle(message) }
            } onGracefulShutdown: {
                self.mqtt.stop()
            }
            group.cancelAll()
        }
        mqtt.stop()
    }

    // MARK: Messages

    func handle(_ message: MQTTMessage) {
        guard let topic = DeviceTopic(message.topic, network: genesis.network) else { return }
        switch topic.kind {
        case .batch: handleBatch(message.payload, from: topic)
        case .sync: Task { await self.handleSync(topic) }
        case .ack, .state: break
        }
    }

    private func handleBatch(_ envelope: [UInt8], from topic: DeviceTopic) {
        metrics.received.increment()
        let ackTopic = topic.with(.ack).topic
        let batch: SignedBatch
        do throws(ProtocolError) {
            batch = try SignedBatch.verify(envelope, expectedNetwork: genesis.network)
        } catch {
            let peek = SignedBatch.peekIdentity(envelope)
            return reject(ackTopic, error.reason, error.description, id: peek?.id, seq: peek?.seq)
        }
        guard batch.signer == topic.device else {
            return reject(ackTopic, .notAuthorized, "the batch is signed by \(batch.signer.hex); this topic belongs to \(topic.device.hex)",
                          id: batch.id, seq: batch.batch.seq)
        }
        let key = BatchKey(batch), now = ContinuousClock.now
        enum Next { case forward, replay([UInt8]), duplicate, overloaded(String) }
        let next = state.withLock { state -> Next in
            switch state.recent[key] {
            case .final(let ack)?: return .replay(ack)
            case .inFlight(let since)? where since.duration(to: now) < Self.inFlightRetry: return .duplicate
            default: break
            }
            guard state.limiter.allow(topic.device, now: now) else {
                return .overloaded("this device sends more than \(Int(configuration.deviceRate)) batches per second; slow down")
            }
            guard state.inFlight < configuration.maxInFlight else {
                return .overloaded("the bridge has \(state.inFlight) batches in flight; resend later")
            }
            state.inFlight += 1
            state.recent[key] = .inFlight(now)
            return .forward
        }
        switch next {
        case .replay(let ack):
            metrics.duplicates.increment()
            publish(ackTopic, ack, status: .final)
        case .duplicate:
            metrics.duplicates.increment()
        case .overloaded(let detail):
            reject(ackTopic, .overloaded, detail, id: batch.id, seq: batch.batch.seq)
        case .forward:
            metrics.inFlight.increment()
            Task { await self.forward(batch, key: key, ackTopic: ackTopic, since: now) }
        }
    }

    private func forward(_ batch: SignedBatch, key: BatchKey, ackTopic: String, since: ContinuousClock.Instant) async {
        var decided = false
        defer {
            let finalAck: Bool = decided
            state.withLock { state in
                state.inFlight -= 1
                if !finalAck, case .inFlight? = state.recent[key] { state.recent[key] = nil }
            }
            metrics.inFlight.decrement()
        }
        guard let client = await pool.pick() else {
            return reject(ackTopic, .overloaded, "no node is reachable from this bridge; resend later", id: batch.id, seq: batch.batch.seq)
        }
        metrics.forwarded.increment()
        let decision = await firstAck(of: client.submit(batch.envelope), within: Self.decisionTimeout,
                                      each: { self.publish(ackTopic, $0) }, where: { $0.status != .accepted })
        guard let decision else { return }
        guard let bytes = publish(ackTopic, decision) else { return }
        if decision.status == .final {
            decided = true
            metrics.submitToFinal.record(since.duration(to: .now))
            state.withLock { $0.recent[key] = .final(bytes) }
        } else if let reason = decision.reason {
            metrics.rejected(reason)
        }
    }

    private func handleSync(_ topic: DeviceTopic) async {
        metrics.syncs.increment()
        let ackTopic = topic.with(.ack).topic
        guard let client = await pool.pick() else {
            return reject(ackTopic, .overloaded, "no node is reachable from this bridge; ask again later", id: nil, seq: nil)
        }
        do {
            let head = try await client.head(of: topic.device)
            publish(ackTopic, Ack(seq: head.nextSeq, status: .head, head: head))
        } catch {
            reject(ackTopic, .overloaded, "the node did not answer: \(error)", id: nil, seq: nil)
        }
    }

    // MARK: Acks

    private func reject(_ topic: String, _ reason: RejectReason, _ detail: String, id: BatchID?, seq: UInt64?) {
        metrics.rejected(reason)
        publish(topic, Ack(id: id, seq: seq, status: .rejected, reason: reason, detail: String(detail.prefix(200))))
    }

    @discardableResult
    private func publish(_ topic: String, _ ack: Ack) -> [UInt8]? {
        do throws(ProtocolError) {
            let bytes = try ack.encoded()
            publish(topic, bytes, status: ack.status)
            return bytes
        } catch {
            logger.error("an ack did not encode (\(error)); this is a bug")
            return nil
        }
    }

    private func publish(_ topic: String, _ bytes: [UInt8], status: Ack.Status) {
        do throws(MQTTError) {
            try mqtt.send(topic, payload: bytes, qos: 1)
            metrics.acked(status)
        } catch {
            logger.warning("publishing an ack to \(topic) failed: \(error)")
        }
    }
}

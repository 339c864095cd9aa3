import KognitaCore
import KognitaMQTT
import KognitaSystem
import Synchronization

/// One more device on the devnet's broker, built from the wire contract
/// alone (no batcher, no spool, no uplink): it publishes a one-transfer batch,
/// waits for its `final` ack, and only then sends the next. Its figure is the
/// path itself, publish to final through the broker, the bridge and the
/// validators, with nothing queued ahead of it (at most 10 a second): what one device sees on a
/// quiet network (`--devices` small) or under the run's load.
final class LatencyProbe: Sendable {
    let key: SigningKey
    let brokerPassword: String
    private let latencies = Mutex<[UInt32]>([])
    private let failures = Mutex<[String]>([])

    init() {
        key = SigningKey()
        brokerPassword = Hex.encode(Sodium.randomBytes(16))
    }

    /// Publish-to-final latencies measured so far, in microseconds.
    var measuredMicroseconds: [UInt32] { latencies.withLock { $0 } }

    /// What went wrong (a batch rejected, an ack that never came).
    var problems: [String] { failures.withLock { $0 } }

    /// Sends batches one at a time until cancelled; `recipient` is paid 1 base unit by each.
    func run(network: NetworkID, brokerPort: Int, fee: Amount, recipient: AccountID) async {
        let base = "kognita/\(network)/\(key.publicKey.hex)"
        var configuration = MQTTConfiguration(port: brokerPort, clientID: "devnet-probe", cleanStart: true, sessionExpirySeconds: 0,
                                              reconnectDelayMinSeconds: 0.1, reconnectDelayMaxSeconds: 1)
        configuration.host = "127.0.0.1"
        configuration.username = key.publicKey.hex
        configuration.password = brokerPassword
        let client: MQTTClient
        do { client = try MQTTClient(configuration) } catch {
            return failures.withLock { $0.append("the latency probe cannot make its MQTT client: \(error)") }
        }
        client.start()
        defer { client.stop() }
        for await event in client.events { if case .connected = event { break } }
        guard !Task.isCancelled else { return }
        do { try await client.subscribe(["\(base)/ack"]) } catch {
            return failures.withLock { $0.append("the latency probe cannot subscribe to its acks: \(error)") }
        }
        let waiter = AckWaiter()
        let pump = Task {
            for await message in client.messages {
                if let ack = try? Ack(decoding: message.payload) { waiter.deliver(ack) }
            }
        }
        defer { pump.cancel() }
        var seq: UInt64 = 1
        var prev = BatchID.zero
        while !Task.isCancelled {
            let batch: SignedBatch
            do {
                batch = try SignedBatch.sign(Batch(network: network, seq: seq, prev: prev, created: WallClock.unixMillis(), fee: fee,
                                                   transfers: [Transfer(to: recipient, amount: Amount(1))]), with: key)
            } catch { return failures.withLock { $0.append("the latency probe cannot sign: \(error)") } }
            let sent = Monotonic.seconds()
            var final = false
            // Resent every 5 s until final, as a device would.
            while !final && !Task.isCancelled {
                waiter.expect(batch.id)
                do { try await client.publish("\(base)/batch", payload: batch.envelope) } catch {
                    waiter.forget(batch.id)
                    try? await Task.sleep(for: .milliseconds(100))
                    continue
                }
                guard let ack = await waiter.wait(for: batch.id, seconds: 5) else { continue }
                if ack.status == .rejected {
                    failures.withLock { $0.append("the latency probe's batch \(seq) was rejected: \(ack.reason.map { "\($0)" } ?? "?") \(ack.detail ?? "")") }
                    return
                }
                final = true
            }
            guard final else { return }
            latencies.withLock { $0.append(UInt32(clamping: Int(((Monotonic.seconds() - sent) * 1_000_000).rounded()))) }
            prev = batch.id
            seq += 1
            // At most 10 batches a second: the bridge allows a device 20 (and
            // answers 'overloaded' past that), and a probe must not be the load.
            let next = sent + 0.1
            if Monotonic.seconds() < next { try? await Task.sleep(for: .milliseconds(Int((next - Monotonic.seconds()) * 1000) + 1)) }
        }
    }
}

/// Hands the probe the decisive ack (final or rejected) of the batch it waits for.
final class AckWaiter: Sendable {
    private struct State {
        /// Decisive acks that came before anyone waited (an ack can beat the PUBACK).
        var early: [BatchID: Ack] = [:]
        var waiting: [BatchID: CheckedContinuation<Ack?, Never>] = [:]
        var expected: Set<BatchID> = []
    }
    private let state = Mutex(State())

    /// Says an ack for `id` is expected (before publishing, so an early one is kept).
    func expect(_ id: BatchID) { state.withLock { _ = $0.expected.insert(id) } }

    func forget(_ id: BatchID) { state.withLock { _ = $0.expected.remove(id); $0.early[id] = nil } }

    /// The decisive ack of `id`, or nil after `seconds` (or once cancelled).
    func wait(for id: BatchID, seconds: Double) async -> Ack? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let early = state.withLock { state -> Ack? in
                    if let ack = state.early.removeValue(forKey: id) { state.expected.remove(id); return ack }
                    state.waiting[id] = continuation
                    return nil
                }
                if let early { return continuation.resume(returning: early) }
                // Started once the continuation is registered, so it always finds it (or finds it answered).
                Task {
                    try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                    self.resume(id, with: nil)
                }
            }
        } onCancel: {
            self.resume(id, with: nil)
        }
    }

    /// An ack from the broker.
    func deliver(_ ack: Ack) {
        guard let id = ack.id, ack.status == .final || ack.status == .rejected else { return }
        let waiting = state.withLock { state -> CheckedContinuation<Ack?, Never>? in
            guard state.expected.contains(id) else { return nil }
            if let continuation = state.waiting.removeValue(forKey: id) { state.expected.remove(id); return continuation }
            state.early[id] = ack
            return nil
        }
        waiting?.resume(returning: ack)
    }

    private func resume(_ id: BatchID, with ack: Ack?) {
        let waiting = state.withLock { $0.waiting.removeValue(forKey: id) }
        waiting?.resume(returning: ack)
    }
}

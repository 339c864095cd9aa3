import KognitaAgent
import KognitaCore
import KognitaMQTT
import KognitaSystem
import Synchronization

/// The devnet's simulated devices: real agents (rules, batcher, spool,
/// uplink, one MQTT connection each) from the KognitaAgent library, many to
/// this process, reading simulated meters.
final class DeviceFleet: Sendable {
    /// One device's part in the run.
    struct Device: Sendable {
        let index: Int
        let key: SigningKey
        let directory: String
        let brokerPassword: String
    }

    /// What every device is set up with.
    struct Settings: Sendable {
        var network: NetworkID
        var brokerPort: Int
        var fee: UInt64
        var batchTransfers: Int
        /// Transfers per second for one device.
        var transfersPerSecond: Double
        var recipients: [AccountID]
        /// The bridges' accounts: device i names bridge i mod count in its batches.
        var bridges: [AccountID] = []
    }

    let devices: [Device]
    let settings: Settings
    let scoreboard: Scoreboard
    private let controls = Mutex<[AgentRuntime.Control]>([])
    private let failures = Mutex<[String]>([])
    private let finished = Mutex<Task<Void, Never>?>(nil)
    private let ticker = Mutex<Task<Void, Never>?>(nil)
    /// Where the devices run. An agent blocks (fsync of its spool, a sensor
    /// read) and signs; on Swift's cooperative pool (one thread per core)
    /// that stalled every other device, the view and the ticks, and a late
    /// tick reads a meter less often, so the fleet produced less than offered.
    private let executor = BlockingExecutor(name: "devices", threads: 4)

    init(devices: [Device], settings: Settings, scoreboard: Scoreboard) {
        self.devices = devices
        self.settings = settings
        self.scoreboard = scoreboard
    }

    /// The longest a transfer waits in an open batch (the agent's default).
    static let batchDelayMilliseconds = 2000

    /// How many meters (each one sensor with one per-unit rule) a device needs
    /// for its rate: a meter is read every 100 ms (the agent's tick) and a rule
    /// pays at most once per reading, so one meter carries up to about 10
    /// transfers per second; 8 leaves room for a late tick.
    static func meters(forTransfersPerSecond rate: Double) -> Int { max(1, Int((rate / 8).rounded(.up))) }

    /// The agent configuration of `device`.
    func configuration(of device: Device) -> AgentConfiguration {
        var c = AgentConfiguration()
        c.network = settings.network
        c.keyURI = "file:\(device.directory)/device.key"
        c.stateDirectory = device.directory
        c.fee = settings.fee
        if !settings.bridges.isEmpty { c.bridge = settings.bridges[device.index % settings.bridges.count] }
        c.broker.host = "127.0.0.1"
        c.broker.port = settings.brokerPort
        c.broker.clientID = "devnet-device-\(device.index + 1)"
        c.broker.username = device.key.publicKey.hex
        c.broker.password = device.brokerPassword
        c.batcher = Batcher.Limits(maxTransfers: settings.batchTransfers, maxBytes: ProtocolLimits.maxBatchBytes, maxDelayMilliseconds: UInt64(Self.batchDelayMilliseconds))
        let meters = Self.meters(forTransfersPerSecond: settings.transfersPerSecond)
        // Milli-units per second per meter; one unit is one transfer.
        let rate = Int64((settings.transfersPerSecond * 1000 / Double(meters)).rounded())
        for meter in 0..<meters {
            let sensor = "meter-\(meter + 1)"
            c.sensors.append(.simulated(id: sensor, milliUnitsPerSecond: rate, pollMilliseconds: 50))
            let recipient = settings.recipients[(device.index + meter) % settings.recipients.count]
            c.rules.append(.init(id: "pay-\(meter + 1)", sensor: sensor, recipient: recipient, everyUnits: 1, pricePerUnit: 1,
                                 hourlyCap: UInt64.max / 2))
        }
        return c
    }

    /// Starts every device; returns once all are created (their spools open,
    /// their MQTT clients made). Throws the first device's failure to start.
    func start() async throws {
        let started = AsyncStream.makeStream(of: String?.self)
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                for device in devices {
                    let configuration = configuration(of: device)
                    var options = AgentRuntime.Options()
                    options.observer = scoreboard.observer(for: device.index)
                    options.logPrefix = "device \(device.index + 1): "
                    options.writesStatusFile = false
                    // One timer ticks the whole fleet: a thousand timers of
                    // their own cost the process more than the agents' work.
                    options.hostTicks = true
                    group.addTask(executorPreference: executor) { [self] in
                        let runtime: AgentRuntime
                        do {
                            runtime = try AgentRuntime(configuration, options: options)
                        } catch {
                            started.continuation.yield("device \(device.index + 1) cannot start: \(error)")
                            return
                        }
                        controls.withLock { $0.append(runtime.control) }
                        started.continuation.yield(nil)
                        // Devices power on at different moments: spread the starts over a
                        // batch's longest delay, or every device would read, batch and send
                        // in lockstep, and a second of many closed batches would follow a
                        // second of none.
                        try? await Task.sleep(for: .milliseconds(Int.random(in: 0..<Self.batchDelayMilliseconds)))
                        do { try await runtime.run() } catch {
                            failures.withLock { $0.append("device \(device.index + 1) stopped: \(error)") }
                        }
                    }
                }
            }
        }
        finished.withLock { $0 = task }
        ticker.withLock {
            $0 = Task { [self] in
                // Every device is ticked every 100 ms, a tenth of them every
                // 10 ms: ticking all at once made every batch due in the same
                // 100 ms close in one burst, which queued at the bridge and the
                // validators.
                let clock = ContinuousClock()
                var next = clock.now
                var slice = 0
                while !Task.isCancelled {
                    next = next.advanced(by: .milliseconds(10))
                    try? await clock.sleep(until: next)
                    let all = controls.withLock { $0 }
                    for index in stride(from: slice, to: all.count, by: 10) { all[index].tick() }
                    slice = (slice + 1) % 10
                }
            }
        }
        var count = 0
        for await failure in started.stream {
            if let failure {
                stop()
                throw DevnetError(failure)
            }
            count += 1
            if count == devices.count { break }
        }
    }

    /// Stops producing: every device closes its open batch and keeps sending until final.
    func drain() { for control in controls.withLock({ $0 }) { control.drain() } }

    /// Stops every device (each closes its open batch and disconnects).
    func stop() {
        for control in controls.withLock({ $0 }) { control.stop() }
        ticker.withLock { $0 }?.cancel()
    }

    /// Waits for every device's loop to end (after ``stop()``), then ends the devices' threads.
    func wait() async {
        await finished.withLock { $0 }?.value
        ticker.withLock { $0 }?.cancel()
        executor.shutdown()
    }

    /// Errors that ended a device's loop.
    var errors: [String] { failures.withLock { $0 } }
}

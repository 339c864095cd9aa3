#if !KOGNITA_EMBEDDED
import Dispatch
import KognitaCore
import KognitaMQTT
import KognitaSystem
#if canImport(Glibc)
import Glibc
#endif

/// An agent driven by Swift concurrency, for a host that runs many agents in
/// one process (the devnet's simulated devices): one task per agent, fed by
/// the MQTT client's streams and a 100 ms tick. The behaviour is
/// ``AgentCore``'s; the `kognita-agent` program drives the same core with
/// ``AgentLoop`` instead. Not in the embedded build, which has no async streams.
public final class AgentRuntime {
    enum Event: Sendable {
        case message(MQTTMessage)
        case mqtt(MQTTEvent)
        case tick
        case drain
        case stop
    }

    /// What an agent did (see ``AgentCore/Activity``).
    public typealias Activity = AgentCore.Activity
    /// How a host runs the agent (see ``AgentCore/Options``).
    public typealias Options = AgentCore.Options

    private let core: AgentCore
    private var signalSources: [any DispatchSourceSignal] = []
    private let events: AsyncStream<Event>
    private let sink: AsyncStream<Event>.Continuation

    /// The agent's settings.
    public var configuration: AgentConfiguration { core.configuration }
    /// The device key.
    public var key: SigningKey { core.key }

    /// Loads (or creates) the key, opens the spool and prepares the MQTT client.
    public init(_ configuration: AgentConfiguration, options: Options = Options()) throws {
        core = try AgentCore(configuration, options: options)
        (events, sink) = AsyncStream.makeStream(of: Event.self)
    }

    /// Loads the device key at `path`, or makes one there (see ``AgentCore/loadOrCreateKey(at:)``).
    public static func loadOrCreateKey(at path: String) throws -> SigningKey {
        try AgentCore.loadOrCreateKey(at: path)
    }

    /// Makes SIGTERM and SIGINT stop the loop cleanly (the open batch is
    /// closed and spooled first). The runtime keeps the signal sources alive:
    /// a source released early (as an optimised build does with an unused
    /// local) silently swallows the signal.
    public func stopOnSignals() {
        let sink = self.sink
        signalSources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { sink.yield(.stop) }
            source.resume()
            return source
        }
    }

    /// Tells a running agent what to do, from any task or thread.
    public struct Control: Sendable {
        fileprivate let sink: AsyncStream<Event>.Continuation

        /// Stops reading sensors and closes the open batch; batches already
        /// spooled are still sent until final. For a host ending a run cleanly.
        public func drain() { sink.yield(.drain) }

        /// Stops the loop as SIGTERM does: the open batch is closed and
        /// spooled, then the agent disconnects and ``run()`` returns.
        public func stop() { sink.yield(.stop) }

        /// Time passed: read sensors, close due batches, resend. For a host
        /// that set ``AgentCore/Options/hostTicks`` (every 100 ms).
        public func tick() { sink.yield(.tick) }
    }

    /// A handle to drain or stop this agent while ``run()`` runs.
    public var control: Control { Control(sink: sink) }

    /// Runs until stopped (``Control/stop()``, or a signal after
    /// ``stopOnSignals()``); then closes the open batch and disconnects.
    public func run() async throws {
        core.start()
        let sink = self.sink, client = core.mqtt
        var feeders = [
            Task { for await message in client.messages { sink.yield(.message(message)) } },
            Task { for await event in client.events { sink.yield(.mqtt(event)) } },
        ]
        if !core.options.hostTicks {
            feeders.append(Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    sink.yield(.tick)
                }
            })
        }
        defer { feeders.forEach { $0.cancel() } }
        for await event in events {
            let now = currentMilliseconds()
            switch event {
            case .stop:
                try core.shutdown(now: now)
                return
            case .message(let message):
                try core.handle(message, now: now)
            case .mqtt(let event):
                try core.handle(event, now: now)
            case .tick:
                try core.tick(now: now)
            case .drain:
                try core.drain(now: now)
            }
            core.writeStatusIfDue(now: now)
        }
    }
}
#endif

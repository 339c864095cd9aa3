import KognitaCore

/// The first ack of `acks` that `isAnswer` takes, after calling `each` for
/// every ack before it (an `accepted` to pass on, say); nil when the stream
/// ends first or `timeout` passes. Shared by everything that waits for a
/// submission's outcome: the HTTP API, the faucet, the bridge.
public func firstAck(of acks: AsyncStream<Ack>, within timeout: Duration,
                     each: @escaping @Sendable (Ack) -> Void = { _ in },
                     where isAnswer: @escaping @Sendable (Ack) -> Bool) async -> Ack? {
    await withTaskGroup(of: Ack?.self) { group in
        group.addTask {
            for await ack in acks {
                if isAnswer(ack) { return ack }
                each(ack)
            }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

import KognitaSystem

/// Where the node's blocking reads of its store run (SQLite: the API's batch
/// lookups, a resent old batch's certificate, the peers' catch-up pages):
/// threads of their own, never Swift's cooperative pool, whose few threads
/// carry the engine, the peer links and the API.
enum NodeIO {
    static let readers = BlockingExecutor(name: "node-readers", threads: 2)
}

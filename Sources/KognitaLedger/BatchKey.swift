import KognitaCore

/// A batch as the ledger names it: its signer and its id.
///
/// The contract's batch id hashes the payload only, and the payload does not
/// name the signer, so two accounts can sign byte-identical payloads (same
/// seq, prev, time and transfers: simulated meters started together do) with
/// one id. Votes and certificates therefore cover the pair: a certificate for
/// one account's batch can never be applied to another account's.
public struct BatchKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let account: AccountID
    public let id: BatchID

    public init(account: AccountID, id: BatchID) {
        self.account = account
        self.id = id
    }

    /// The key of a signed batch.
    public init(_ batch: SignedBatch) { self.init(account: batch.signer, id: batch.id) }

    public static func < (l: BatchKey, r: BatchKey) -> Bool { (l.account, l.id) < (r.account, r.id) }
    public var description: String { "\(id) of \(account)" }
}

import KognitaCore

/// What a validator's signature covers: the network, the epoch, and the root
/// of a Merkle tree over the batches (account and id) it votes for (with their count).
///
/// The bytes start with a context string, so a vote signature can never be
/// mistaken for a batch signature (a COSE Sig_structure) or anything else the
/// same key signs.
public enum VoteStatement {
    /// The context string at the head of every signed statement.
    public static let context = "kognita-vote-v1"

    /// The exact bytes signed: CBOR `["kognita-vote-v1", network, epoch, root, count]`.
    public static func signingBytes(network: NetworkID, epoch: UInt64, root: Bytes32, count: Int) -> [UInt8] {
        var writer = CBORWriter(reservingCapacity: 96)
        writer.writeArrayHeader(5)
        writer.writeText(context)
        writer.writeText(network.rawValue)
        writer.writeUnsigned(epoch)
        writer.writeBytes(root)
        writer.writeUnsigned(UInt64(count))
        return writer.bytes
    }
}

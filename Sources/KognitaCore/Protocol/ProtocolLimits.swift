/// The contract's size and count limits.
public enum ProtocolLimits {
    /// Largest encoded batch (the COSE payload), in bytes.
    public static let maxBatchBytes = 64 * 1024
    /// Most transfers in one batch.
    public static let maxTransfers = 1024
    /// Longest sensor id, in UTF-8 bytes.
    public static let maxSensorBytes = 64
    /// Bytes a COSE_Sign1 envelope adds around the largest payload: tag (1),
    /// array head (1), protected header (4), unprotected `{4: kid}` (36),
    /// payload head (5), signature (66).
    public static let envelopeOverhead = 113
    /// Largest COSE_Sign1 envelope that can hold a valid batch, in bytes.
    public static let maxEnvelopeBytes = maxBatchBytes + envelopeOverhead
}

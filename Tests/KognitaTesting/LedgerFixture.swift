import KognitaCore
import KognitaLedger

/// A small network for ledger and node tests: four equal validators, a
/// funded payer, and helpers to sign batches and certify them with real votes.
public struct LedgerFixture {
    public let network = try! NetworkID("kognita-test")
    public let validatorKeys = (0..<4).map { _ in SigningKey() }
    public let committee: Committee
    public let payer = SigningKey()
    public let payee = SigningKey()
    public static let funding: UInt64 = 1_000_000

    public init() {
        committee = try! Committee(network: network, epoch: 0, validators: validatorKeys.map { Validator(id: $0.publicKey, weight: 1) })
    }

    public func authority(minimumFee: Amount = .zero) -> Authority {
        try! Authority.genesis(committee: committee, minimumFee: minimumFee, allocations: [(payer.publicKey, Amount(Self.funding))])
    }

    /// A signed batch of `payer` (or `from`) at `seq` after `prev`.
    public func batch(seq: UInt64, prev: BatchID = .zero, amounts: [UInt64] = [10], fee: UInt64 = 0,
               from: SigningKey? = nil, to: AccountID? = nil, network: NetworkID? = nil, created: UInt64 = 1) -> SignedBatch {
        let transfers = amounts.map { Transfer(to: to ?? payee.publicKey, amount: Amount($0)) }
        let batch = Batch(network: network ?? self.network, seq: seq, prev: prev, created: created, fee: Amount(fee), transfers: transfers)
        return try! SignedBatch.sign(batch, with: from ?? payer)
    }

    /// A certificate for `ids[0]`... made of real votes by the validators at `voters`.
    public func certificate(for id: BatchKey, voters: [Int], alsoVotingFor others: [BatchKey] = []) throws -> Certificate {
        var assembler = CertificateAssembler(committee: committee)
        var made: [Certificate] = []
        for index in voters {
            let vote = Vote.sign(keys: others + [id], network: network, epoch: 0, with: validatorKeys[index])
            made += assembler.add(try vote.verify(for: committee)).map(\.certificate)
        }
        if let certificate = made.first(where: { $0.batch == id }) { return certificate }
        // Below a quorum the assembler makes nothing: assemble the signers by hand.
        let signers = try voters.map { index in
            try Vote.sign(keys: others + [id], network: network, epoch: 0, with: validatorKeys[index]).verify(for: committee).signer(for: id)!
        }
        return Certificate(batch: id, network: network, epoch: 0, signers: signers)
    }

    public func verified(_ batch: SignedBatch) throws -> VerifiedCertificate {
        try certificate(for: BatchKey(batch), voters: [0, 1, 2]).verify(for: committee)
    }
}

import Testing
import KognitaCore
import KognitaLedger

/// A validator restarted in the middle of an epoch's agreement restores
/// what it signed from its write-ahead log: it repeats its votes and never
/// contradicts them, and it keeps the lock its precommit implies.
@Suite("checkpoint agreement: restoring a validator's own messages after a restart")
struct AgreementRestoreTests {
    let network = try! NetworkID("kognita-restore")
    let keys: [SigningKey] = (0..<4).map { index in try! SigningKey(seed: [UInt8](repeating: UInt8(0x51 + index), count: 32)) }
    var committee: Committee { try! Committee(network: network, epoch: 3, validators: keys.map { Validator(id: $0.publicKey, weight: 10) }) }

    func header(_ timestamp: UInt64) -> CheckpointHeader {
        CheckpointHeader(network: network, epoch: 3, previous: BLAKE2b256.hash([1]), timestamp: timestamp, stateRoot: BLAKE2b256.hash([2]),
                         bodies: [], nextCommittee: committee.validators)
    }
    func key(of id: PublicKey) -> SigningKey { keys.first { $0.publicKey == id }! }
    func ownVotes(_ actions: [CheckpointAgreement.Action], by key: SigningKey) -> [CheckpointVote] {
        actions.compactMap { if case .broadcast(.vote(let vote)) = $0, vote.validator == key.publicKey { vote } else { nil } }
    }

    @Test("after a restart a validator sends the prevote it sent before, not one for an equivocating leader's other header")
    func repeatsItsPrevote() throws {
        let probe = CheckpointAgreement(committee: committee, key: nil)
        let leader = key(of: probe.leader(of: 0))
        let me = try #require(keys.first { $0.publicKey != leader.publicKey })
        let first = header(1_000), second = header(2_000)

        var before = CheckpointAgreement(committee: committee, key: me)
        var sent = before.handle(.start)
        sent += before.handle(.proposal(CheckpointProposal.sign(header: first, round: 0, validRound: nil, with: leader), valid: true))
        let prevote = try #require(ownVotes(sent, by: me).first { $0.kind == .prevote })
        #expect(prevote.digest == first.digest)

        // Restarted: the log holds the prevote. The equivocating leader now shows it the other header.
        var after = CheckpointAgreement(committee: committee, key: me)
        after.restore([.vote(prevote)])
        var again = after.handle(.start)
        again += after.handle(.proposal(CheckpointProposal.sign(header: second, round: 0, validRound: nil, with: leader), valid: true))
        let votes = ownVotes(again, by: me).filter { $0.kind == .prevote && $0.round == 0 }
        #expect(!votes.isEmpty, "it must vote again in round 0")
        #expect(votes.allSatisfy { $0 == prevote }, "a restarted validator contradicted its own prevote: \(votes.map { $0.digest?.hex.prefix(8) ?? "nil" })")

        // Without the log it would have voted for the other header: the test can fail.
        var amnesiac = CheckpointAgreement(committee: committee, key: me)
        var forgot = amnesiac.handle(.start)
        forgot += amnesiac.handle(.proposal(CheckpointProposal.sign(header: second, round: 0, validRound: nil, with: leader), valid: true))
        #expect(ownVotes(forgot, by: me).contains { $0.kind == .prevote && $0.digest == second.digest })
    }

    @Test("after a restart a validator keeps the lock of its precommit: it prevotes nil on a fresh proposal of another header in a later round")
    func keepsItsLock() throws {
        let probe = CheckpointAgreement(committee: committee, key: nil)
        let leader0 = key(of: probe.leader(of: 0)), leader1 = key(of: probe.leader(of: 1))
        let me = try #require(keys.first { $0.publicKey != leader0.publicKey && $0.publicKey != leader1.publicKey })
        let locked = header(1_000), other = header(2_000)

        var before = CheckpointAgreement(committee: committee, key: me)
        var sent = before.handle(.start)
        sent += before.handle(.proposal(CheckpointProposal.sign(header: locked, round: 0, validRound: nil, with: leader0), valid: true))
        for voter in keys where voter.publicKey != me.publicKey {
            sent += before.handle(.vote(CheckpointVote.sign(.prevote, network: network, epoch: 3, round: 0, digest: locked.digest, with: voter)))
        }
        let precommit = try #require(ownVotes(sent, by: me).first { $0.kind == .precommit })
        #expect(precommit.digest == locked.digest)
        let log = ownVotes(sent, by: me).map { CheckpointAgreement.Message.vote($0) }

        var after = CheckpointAgreement(committee: committee, key: me)
        after.restore(log)
        _ = after.handle(.start)
        // Round 1 comes (more than a third of the weight is there), with a fresh proposal of another header.
        var actions: [CheckpointAgreement.Action] = []
        for voter in keys where voter.publicKey != me.publicKey {
            actions += after.handle(.vote(CheckpointVote.sign(.prevote, network: network, epoch: 3, round: 1, digest: nil, with: voter)))
        }
        actions += after.handle(.proposal(CheckpointProposal.sign(header: other, round: 1, validRound: nil, with: leader1), valid: true))
        let round1 = ownVotes(actions, by: me).filter { $0.round == 1 && $0.kind == .prevote }
        #expect(!round1.isEmpty)
        #expect(round1.allSatisfy { $0.digest != other.digest }, "a restarted validator forgot its lock and prevoted another header")
    }
}

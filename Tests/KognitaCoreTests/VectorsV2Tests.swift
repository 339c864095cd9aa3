import Testing
import Foundation
import KognitaCore
import KognitaTesting

/// Version-2 batch vectors (operations: bond, unbond, register) made by an
/// independent implementation written from docs/PROTOCOL.md
/// (Tests/Vectors/generate_batch_vectors_v2.py, pynacl + cbor2, cross-checked
/// with pycose and Tests/Interop/verify_with_pycose.py).
struct BatchVectorV2File: Decodable {
    struct Vector: Decodable, CustomTestStringConvertible, Sendable {
        let name: String
        let description: String
        let cose: String
        let expect_network: String
        let valid: Bool
        let id: String?
        let signer: String?
        let payload: String?
        let batch: VectorBatch?
        let debit: UInt64?
        let reason: String?
        let field: String?
        var testDescription: String { name }
    }

    struct VectorBatch: Decodable, Sendable {
        let version: UInt64
        let network: String
        let seq: UInt64
        let prev: String
        let created: UInt64
        let fee: UInt64
        let transfers: [BatchVectorFile.VectorTransfer]
        /// Absent for a version-1 batch.
        let operations: [VectorOperation]?
        /// Version 3: the bridge the device submits through.
        let via: String?
    }

    struct VectorOperation: Decodable, Sendable {
        let type: String
        let amount: UInt64?
        let node: String?
        let addresses: [String]?
        let signature: String?
    }

    let vectors: [Vector]

    static let path = "Tests/Vectors/batch-vectors-v2.json"

    static func load() throws -> BatchVectorV2File { try Repository.vectors("batch-vectors-v2.json") }
}

@Suite("Independent batch vectors, version 2 (operations)")
struct VectorsV2Tests {
    static let vectors = (try? BatchVectorV2File.load().vectors) ?? []

    @Test("the version-2 vector file is present and covers every outcome")
    func coverage() throws {
        let file = try BatchVectorV2File.load()
        let outcomes = Set(file.vectors.map { $0.valid ? "valid" : $0.reason! })
        #expect(outcomes == ["valid", "malformed", "bad-signature", "wrong-network", "too-large"])
        #expect(file.vectors.count >= 60)
        // Every operation kind appears in a valid vector, alone and with transfers.
        let valid = file.vectors.filter(\.valid).compactMap(\.batch)
        let kinds = Set(valid.flatMap { $0.operations ?? [] }.map(\.type))
        #expect(kinds == ["bond", "unbond", "register"])
        #expect(valid.contains { !$0.transfers.isEmpty && ($0.operations?.count ?? 0) == 3 })
        // Every invalid vector names the field at fault.
        #expect(file.vectors.allSatisfy { $0.valid || $0.field != nil })
    }

    @Test("each version-2 vector gets exactly its expected outcome, reason and field", arguments: vectors)
    func vector(_ vector: BatchVectorV2File.Vector) throws {
        let bytes = [UInt8](testHex: vector.cose)
        let network = try NetworkID(vector.expect_network)
        guard vector.valid else {
            let error = #expect(throws: ProtocolError.self, "\(vector.description)") {
                try SignedBatch.verify(bytes, expectedNetwork: network)
            }
            #expect(error?.reason.name == vector.reason, "\(vector.description): got \(error.map { "\($0)" } ?? "no error")")
            #expect(error?.field == vector.field, "\(vector.description): got \(error.map { "\($0)" } ?? "no error")")
            return
        }
        let signed = try SignedBatch.verify(bytes, expectedNetwork: network)
        #expect(signed.id.hex == vector.id)
        #expect(signed.signer.hex == vector.signer)
        #expect(signed.payload.testHex == vector.payload)
        let expected = try #require(vector.batch)
        let batch = signed.batch
        #expect(batch.version == expected.version)
        #expect(batch.network.rawValue == expected.network)
        #expect(batch.seq == expected.seq)
        #expect(batch.prev.hex == expected.prev)
        #expect(batch.created == expected.created)
        #expect(batch.fee.baseUnits == expected.fee)
        #expect(batch.transfers.count == expected.transfers.count)
        for (got, want) in zip(batch.transfers, expected.transfers) {
            #expect(got.to.hex == want.to)
            #expect(got.amount.baseUnits == want.amount)
            #expect(got.sensor == want.sensor)
            #expect(got.reading == want.reading)
            #expect(got.at == want.at)
        }
        let operations = expected.operations ?? []
        #expect(expected.version != 2 || expected.operations != nil, "operations are listed for version 2")
        #expect(expected.version != 1 || expected.operations == nil, "operations are never listed for version 1")
        #expect(batch.via?.hex == expected.via, "the bridge is named exactly in version 3")
        #expect(batch.operations.count == operations.count)
        for (got, want) in zip(batch.operations, operations) {
            switch got {
            case .bond(let amount):
                #expect(want.type == "bond" && want.amount == amount.baseUnits)
            case .unbond(let amount):
                #expect(want.type == "unbond" && want.amount == amount.baseUnits)
            case .register(let registration):
                #expect(want.type == "register")
                #expect(registration.node.hex == want.node)
                #expect(registration.addresses == want.addresses)
                #expect(registration.nodeSignature.bytes.testHex == want.signature)
                #expect(registration.isSigned(network: batch.network, account: signed.signer))
            }
        }
        #expect(try batch.totalDebit().baseUnits == vector.debit, "the debit: fee, amounts and bonds, not unbonds")
        // Our encoder produces the independent implementation's exact bytes.
        #expect(try batch.encoded() == signed.payload)
    }

    @Test("the version-2 generator, run again here, reproduces the committed vectors byte for byte",
          .enabled(if: PythonTooling.isAvailable, "Python cross-check tooling missing: run 'make setup'"))
    func generatorReproducesVectors() async throws {
        try await TemporaryDirectory.with { dir in
            let output = "\(dir)/vectors-v2.json"
            let run = try await PythonTooling.run("Tests/Vectors/generate_batch_vectors_v2.py", [output])
            #expect(run.status == 0, "generator failed: \(run.stderr)")
            let fresh = try Data(contentsOf: URL(fileURLWithPath: output))
            let committed = try Data(contentsOf: URL(fileURLWithPath: Repository.path(BatchVectorV2File.path)))
            #expect(fresh == committed, "regenerate with: .build-venv/bin/python Tests/Vectors/generate_batch_vectors_v2.py")
        }
    }

    /// The version-2 worked examples of docs/PROTOCOL.md (examples 3 and 4)
    /// are what our signer produces, and what the independent generator made.
    @Test("docs/PROTOCOL.md's version-2 worked examples are re-created byte for byte, with their ids and node signature")
    func workedExamples() throws {
        let document = try String(contentsOfFile: Repository.path("docs/PROTOCOL.md"), encoding: .utf8)
        let blocks = document.components(separatedBy: "```\n").filter { $0.hasPrefix("d28443") }
            .map { $0.split(separator: "\n").joined() }
        try #require(blocks.count == 4, "examples 1 and 2 (version 1), 3 and 4 (version 2)")

        let key = try SigningKey(seed: [UInt8](testHex: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        let nodeKey = try SigningKey(seed: [UInt8](testHex: "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5"))
        let network = try NetworkID("kognita-devnet")
        let bob = try AccountID(hex: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
        let example2 = try BatchID(hex: "e4ab55818073732440cd2b89f6cd10c6150fd741eb1e62f592d856709a65be75")
        #expect(document.contains("`\(example2.hex)`"), "example 3 chains from the id example 2 states")

        let registration = Registration.sign(network: network, account: key.publicKey,
                                             addresses: ["203.0.113.7:7400"], nodeKey: nodeKey)
        let third = try SignedBatch.sign(Batch(network: network, seq: 3, prev: example2, created: 1_767_225_720_000, fee: 1,
            transfers: [], operations: [.bond(50), .register(registration)]), with: key)
        let fourth = try SignedBatch.sign(Batch(network: network, seq: 4, prev: third.id, created: 1_767_225_780_000, fee: 0,
            transfers: [Transfer(to: bob, amount: 100)], operations: [.unbond(20)]), with: key)

        #expect(third.envelope.testHex == blocks[2])
        #expect(fourth.envelope.testHex == blocks[3])
        #expect(document.contains("`\(third.id.hex)`"))
        #expect(document.contains("`\(fourth.id.hex)`"))
        #expect(third.envelope.count == 312 && fourth.envelope.count == 226, "the sizes the document states")
        #expect(try third.batch.totalDebit() == 51 && fourth.batch.totalDebit() == 100, "the debits the document states")

        // The node-signed bytes and the node signature the document shows.
        let signedBytes = Registration.signingBytes(network: network, account: key.publicKey,
                                                    node: nodeKey.publicKey, addresses: ["203.0.113.7:7400"])
        #expect(signedBytes.count == 122 && document.contains("The node signed these 122 bytes"))
        #expect(signedBytes.testHex.hasPrefix("85736b6f676e6974612d72656769737465722d7631"), "array(5), then the context")
        #expect(document.contains("`\(registration.nodeSignature.bytes.testHex)`"))

        // The independent generator made the same two envelopes.
        let file = try BatchVectorV2File.load()
        let byName = Dictionary(uniqueKeysWithValues: file.vectors.map { ($0.name, $0) })
        #expect(byName["valid-v2-protocol-example-a"]?.cose == third.envelope.testHex)
        #expect(byName["valid-v2-protocol-example-b"]?.cose == fourth.envelope.testHex)
    }
}

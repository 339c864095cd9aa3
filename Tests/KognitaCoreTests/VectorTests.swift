import Testing
import Foundation
import KognitaCore
import KognitaTesting

/// Batch vectors made by an independent implementation of the contract
/// (Tests/Vectors/generate_batch_vectors.py, pynacl + cbor2, cross-checked with
/// pycose), loaded with exact integer parsing (values reach 2^64 - 1).
struct BatchVectorFile: Decodable {
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
        let reason: String?
        var testDescription: String { name }
    }

    struct VectorBatch: Decodable, Sendable {
        let version: UInt64
        let network: String
        let seq: UInt64
        let prev: String
        let created: UInt64
        let fee: UInt64
        let transfers: [VectorTransfer]
    }

    struct VectorTransfer: Decodable, Sendable {
        let to: String
        let amount: UInt64
        let sensor: String?
        let reading: Int64?
        let at: UInt64?
    }

    let vectors: [Vector]

    static let path = "Tests/Vectors/batch-vectors.json"

    static func load() throws -> BatchVectorFile { try Repository.vectors("batch-vectors.json") }
}

@Suite("Independent batch vectors")
struct VectorTests {
    static let vectors = (try? BatchVectorFile.load().vectors) ?? []

    @Test("the vector file is present and covers every outcome")
    func coverage() throws {
        let file = try BatchVectorFile.load()
        let outcomes = Set(file.vectors.map { $0.valid ? "valid" : $0.reason! })
        #expect(outcomes == ["valid", "malformed", "bad-signature", "wrong-network", "too-large"])
        #expect(file.vectors.count >= 50)
    }

    @Test("each vector gets exactly its expected outcome", arguments: vectors)
    func vector(_ vector: BatchVectorFile.Vector) throws {
        let bytes = [UInt8](testHex: vector.cose)
        let network = try NetworkID(vector.expect_network)
        guard vector.valid else {
            let error = #expect(throws: ProtocolError.self, "\(vector.description)") {
                try SignedBatch.verify(bytes, expectedNetwork: network)
            }
            #expect(error?.reason.name == vector.reason, "\(vector.description): got \(error.map { "\($0)" } ?? "no error")")
            return
        }
        let signed = try SignedBatch.verify(bytes, expectedNetwork: network)
        #expect(signed.id.hex == vector.id)
        #expect(signed.signer.hex == vector.signer)
        #expect(signed.payload.testHex == vector.payload)
        let expected = try #require(vector.batch)
        let batch = signed.batch
        #expect(expected.version == 1)
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
        // Our encoder produces the independent implementation's exact bytes.
        #expect(try batch.encoded() == signed.payload)
    }

    @Test("the generator, run again here, reproduces the committed vectors byte for byte",
          .enabled(if: PythonTooling.isAvailable, "Python cross-check tooling missing: run 'make setup'"))
    func generatorReproducesVectors() async throws {
        try await TemporaryDirectory.with { dir in
            let output = "\(dir)/vectors.json"
            let run = try await PythonTooling.run("Tests/Vectors/generate_batch_vectors.py", [output])
            #expect(run.status == 0, "generator failed: \(run.stderr)")
            let fresh = try Data(contentsOf: URL(fileURLWithPath: output))
            let committed = try Data(contentsOf: URL(fileURLWithPath: Repository.path(BatchVectorFile.path)))
            #expect(fresh == committed, "regenerate with: .build-venv/bin/python Tests/Vectors/generate_batch_vectors.py")
        }
    }
}

/// Acks encoded by cbor2 (the examples in docs/PROTOCOL.md): they decode, and
/// our encoder reproduces them byte for byte.
@Suite("Ack vectors")
struct AckVectorTests {
    struct File: Decodable { struct Entry: Decodable { let name: String; let cbor: String }; let acks: [Entry] }

    @Test("every ack example decodes and re-encodes to the same bytes")
    func acks() throws {
        let file: File = try Repository.vectors("ack-vectors.json")
        #expect(file.acks.count == 5)
        for entry in file.acks {
            let bytes = [UInt8](testHex: entry.cbor)
            let ack = try Ack(decoding: bytes)
            #expect(try ack.encoded() == bytes, "\(entry.name)")
        }
    }
}

/// The worked examples printed in docs/PROTOCOL.md are exactly what our
/// signer produces (Ed25519 is deterministic), so the document cannot drift.
@Suite("docs/PROTOCOL.md worked examples")
struct ProtocolDocumentTests {
    @Test("both version-1 envelopes in the document are re-created byte for byte, with the ids it states")
    func workedExamples() throws {
        let document = try String(contentsOfFile: Repository.path("docs/PROTOCOL.md"), encoding: .utf8)
        // Hex blocks in the document that start like a COSE_Sign1 envelope.
        let blocks = document.components(separatedBy: "```\n").filter { $0.hasPrefix("d28443") }
            .map { $0.split(separator: "\n").joined() }
        // Examples 1 and 2 are version 1; 3 and 4 (version 2) are checked by VectorsV2Tests.
        try #require(blocks.count == 4)

        let key = try SigningKey(seed: [UInt8](testHex: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        let network = try NetworkID("kognita-devnet")
        let bob = try AccountID(hex: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
        let carol = try AccountID(hex: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025")
        let first = try SignedBatch.sign(Batch(network: network, seq: 1, created: 1_767_225_600_000, fee: 1,
            transfers: [Transfer(to: bob, amount: 1000, sensor: "meter-1", reading: 21_500)]), with: key)
        let second = try SignedBatch.sign(Batch(network: network, seq: 2, prev: first.id, created: 1_767_225_660_000, fee: 0,
            transfers: [Transfer(to: bob, amount: 250), Transfer(to: carol, amount: 5, sensor: "parking-3", reading: -1_250)]), with: key)

        #expect(first.envelope.testHex == blocks[0])
        #expect(second.envelope.testHex == blocks[1])
        #expect(document.contains("`\(first.id.hex)`"))
        #expect(document.contains("`\(second.id.hex)`"))
    }
}

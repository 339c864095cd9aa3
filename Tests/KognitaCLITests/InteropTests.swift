import Testing
import Foundation
import KognitaTesting

/// Cross-checks with independent implementations of the contract: pycose
/// (verification) and a pycose/cbor2 batch maker (Tests/Interop/).
@Suite("Interop with independent implementations",
       .enabled(if: PythonTooling.isAvailable, "Python cross-check tooling missing: run 'make setup'"))
struct InteropTests {
    @Test("pycose verifies a batch signed by kognita, and its id is BLAKE2b-256 of the payload")
    func pycoseVerifiesOurBatch() async throws {
        try await TemporaryDirectory.with { dir in
            let (signed, path) = try await BatchCommandTests.sign(dir)
            let ourID = signed.stdout.trimmingCharacters(in: .newlines)
            let check = try await PythonTooling.run("Tests/Interop/verify_with_pycose.py", [path])
            #expect(check.status == 0, "pycose refused it: \(check.stdout) \(check.stderr)")
            let report = try CLI.parseJSON(check.stdout)
            #expect(report["valid"] as? Bool == true)
            #expect(report["id"] as? String == ourID)
            #expect(report["signer"] as? String == CLI.rfc8032ID)
        }
    }

    @Test("kognita accepts a batch built by the independent implementation, and any flipped byte fails")
    func weAcceptTheirBatch() async throws {
        try await TemporaryDirectory.with { dir in
            let path = "\(dir)/theirs.cose"
            let seed = String(repeating: "42", count: 32)
            let made = try await PythonTooling.run("Tests/Interop/make_batch.py", [
                "--seed", seed, "--network", "kognita-devnet", "--seq", "3",
                "--prev", String(repeating: "5a", count: 32), "--fee", "9", "--created", "1767225600123",
                "--to", "\(CLI.recipient):500:meter-1:-2500", "--to", "\(CLI.recipient):1", "--out", path,
            ])
            #expect(made.status == 0, "make_batch.py failed: \(made.stderr)")
            let theirs = try CLI.parseJSON(made.stdout)

            let shown = try await CLI.run(["batch", "show", path, "--json", "--network", "kognita-devnet"])
            #expect(shown.status == 0, "\(shown.stderr)")
            let ours = try CLI.parseJSON(shown.stdout)
            #expect(ours["id"] as? String == theirs["id"] as? String)
            #expect(ours["signer"] as? String == theirs["signer"] as? String)
            let batch = try #require(ours["batch"] as? [String: Any])
            #expect(batch["seq"] as? Int == 3 && batch["fee"] as? Int == 9)
            let transfers = try #require(batch["transfers"] as? [[String: Any]])
            #expect(transfers.first?["reading"] as? Int == -2500)

            try await BatchCommandTests.expectEveryFlipFails(path, in: dir)
        }
    }
}

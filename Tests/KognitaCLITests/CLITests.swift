import Testing
import Foundation
import KognitaTesting

@Suite("kognita keygen and key show")
struct KeyCommandTests {
    @Test("keygen writes a private key, prints its id, and will not overwrite without --force")
    func keygen() async throws {
        try await TemporaryDirectory.with { dir in
            let path = "\(dir)/device.key"
            let first = try await CLI.run(["keygen", "--out", path])
            #expect(first.status == 0)
            let id = first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(id.count == 64 && id.allSatisfy { "0123456789abcdef".contains($0) })
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! Int
            #expect(mode == 0o600)

            let again = try await CLI.run(["keygen", "--out", path])
            #expect(again.status != 0)
            #expect(again.hasOneLineError && again.stderr.contains("--force"), "\(again.stderr)")
            #expect(try await CLI.run(["key", "show", path]).stdout == first.stdout, "the key was replaced")

            let forced = try await CLI.run(["keygen", "--out", path, "--force"])
            #expect(forced.status == 0 && forced.stdout != first.stdout)
            #expect(try await CLI.run(["key", "show", path]).stdout == forced.stdout)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["device.key"])
        }
    }

    @Test("key show refuses a key file readable by group or others")
    func keyShowPermissions() async throws {
        try await TemporaryDirectory.with { dir in
            let path = "\(dir)/device.key"
            _ = try await CLI.run(["keygen", "--out", path])
            chmod(path, 0o644)
            let result = try await CLI.run(["key", "show", path])
            #expect(result.status != 0)
            #expect(result.hasOneLineError && result.stderr.contains("chmod 600"), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }
}

@Suite("kognita batch sign and show")
struct BatchCommandTests {
    /// Writes the RFC 8032 test-1 key, so batches are reproducible.
    static func writeTestKey(_ dir: String) throws -> String {
        let path = "\(dir)/test1.key"
        try "kognita-key v1\nid \(CLI.rfc8032ID)\nseed \(CLI.rfc8032Seed)\n".write(toFile: path)
        chmod(path, 0o600)
        return path
    }

    static func sign(_ dir: String, _ extra: [String] = [], out: String = "b.cose") async throws -> (ChildProcess.Result, String) {
        let key = try writeTestKey(dir)
        let path = "\(dir)/\(out)"
        let result = try await CLI.run(["batch", "sign", "--key", key, "--network", "kognita-devnet", "--seq", "1",
                                  "--to", "\(CLI.recipient):1000:meter-1:21.5", "--to", "\(CLI.recipient):7",
                                  "--fee", "2", "--created", "1767225600000", "--out", path] + extra)
        return (result, path)
    }

    @Test("a signed batch shows as valid, in text and JSON, with what was asked for")
    func signAndShow() async throws {
        try await TemporaryDirectory.with { dir in
            let (signed, path) = try await Self.sign(dir)
            #expect(signed.status == 0, "\(signed.stderr)")
            let id = signed.stdout.trimmingCharacters(in: .newlines)

            let text = try await CLI.run(["batch", "show", path])
            #expect(text.status == 0)
            #expect(text.stdout.contains("id         \(id)"))
            #expect(text.stdout.contains("signer     \(CLI.rfc8032ID)"))
            #expect(text.stdout.contains("reading 21.5"))

            let json = try CLI.parseJSON(try await CLI.run(["batch", "show", path, "--json"]).stdout)
            #expect(json["valid"] as? Bool == true)
            #expect(json["id"] as? String == id)
            let batch = try #require(json["batch"] as? [String: Any])
            #expect(batch["seq"] as? Int == 1)
            #expect(batch["fee"] as? Int == 2)
            let transfers = try #require(batch["transfers"] as? [[String: Any]])
            #expect(transfers.count == 2)
            #expect(transfers[0]["reading"] as? Int == 21500)
            #expect(transfers[0]["sensor"] as? String == "meter-1")
            #expect(transfers[1]["amount"] as? Int == 7)

            let other = try await CLI.run(["batch", "show", path, "--network", "kognita-testnet"])
            #expect(other.status != 0 && other.stderr.contains("wrong-network"))
        }
    }

    @Test("flipping any single byte of a signed batch makes batch show fail")
    func everyByteFlipFails() async throws {
        try await TemporaryDirectory.with { dir in
            let (_, path) = try await Self.sign(dir)
            try await Self.expectEveryFlipFails(path, in: dir)
        }
    }

    static func expectEveryFlipFails(_ path: String, in dir: String) async throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(try await CLI.run(["batch", "show", path]).status == 0)
        let flipped = "\(dir)/flipped.cose"
        for index in original.indices {
            var bytes = original
            bytes[index] ^= 0xff
            try Data(bytes).write(to: URL(fileURLWithPath: flipped))
            let result = try await CLI.run(["batch", "show", flipped])
            #expect(result.status != 0, "byte \(index) flipped was accepted")
            #expect(result.hasOneLineError, "byte \(index): \(result.stderr)")
        }
    }

    @Test("bad input gets a one-line error, a non-zero exit and no output file",
          arguments: [
            ["--to", "zz:1"], ["--to", "\(CLI.recipient):0"], ["--to", "\(CLI.recipient):-5"],
            ["--to", "\(CLI.recipient):1:a:b:c"], ["--to", "\(CLI.recipient):1:s:1.2345"],
            ["--to", "\(CLI.recipient):18446744073709551616"], ["--to", "\(CLI.recipient):1:\(String(repeating: "x", count: 65))"],
            ["--network", "Kognita"], ["--network", ""], ["--seq", "0"], ["--seq", "one"],
            ["--prev", "abcd"], ["--prev", String(repeating: "11", count: 32)], ["--fee", "-1"], ["--created", "soon"],
            ["--to", "\(CLI.recipient):18446744073709551615"],
            ["--to", "\(CLI.recipient):1:s:--5"], ["--to", "\(CLI.recipient):1:s:1.-5"], ["--to", "\(CLI.recipient):1:s:1.+5"],
            ["--to", "\(CLI.recipient):+5"], ["--fee=+1"], ["--seq", "+1"], ["--to", "\(CLI.recipient):1:s: 5"],
          ])
    func badSignArguments(override: [String]) async throws {
        try await TemporaryDirectory.with { dir in
            let key = try Self.writeTestKey(dir)
            var arguments = ["batch", "sign", "--key", key, "--out", "\(dir)/out.cose"]
            let defaults = ["--network": "kognita-devnet", "--seq": "1", "--to": "\(CLI.recipient):1", "--fee": "1"]
            for (flag, value) in defaults where !override.contains(flag) { arguments += [flag, value] }
            arguments += override
            let result = try await CLI.run(arguments)
            #expect(result.status != 0, "\(override) was accepted")
            #expect(result.hasOneLineError, "\(override): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/out.cose"))
        }
    }

    @Test("batch sign will not overwrite an existing file (such as the key) without --force")
    func noOverwrite() async throws {
        try await TemporaryDirectory.with { dir in
            let key = try Self.writeTestKey(dir)
            let before = try Data(contentsOf: URL(fileURLWithPath: key))
            let arguments = ["batch", "sign", "--key", key, "--network", "kognita-devnet", "--seq", "1",
                             "--to", "\(CLI.recipient):1", "--out", key]
            let refused = try await CLI.run(arguments)
            #expect(refused.status != 0 && refused.hasOneLineError && refused.stderr.contains("--force"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: key)) == before)
            let out = "\(dir)/b.cose"
            #expect(try await CLI.run(Array(arguments.dropLast()) + [out]).status == 0)
            #expect(try await CLI.run(Array(arguments.dropLast()) + [out]).status != 0)
            #expect(try await CLI.run(Array(arguments.dropLast()) + [out, "--force"]).status == 0)
        }
    }

    @Test("unusable files get a one-line error and a non-zero exit")
    func badFiles() async throws {
        try await TemporaryDirectory.with { dir in
            try Data().write(to: URL(fileURLWithPath: "\(dir)/empty"))
            try Data("not a batch at all".utf8).write(to: URL(fileURLWithPath: "\(dir)/text"))
            try Data(repeating: 0xd2, count: 70_000).write(to: URL(fileURLWithPath: "\(dir)/big"))
            mkfifo("\(dir)/fifo", 0o600)
            try "kognita-key v1\nseed 00\n".write(toFile: "\(dir)/bad.key")
            chmod("\(dir)/bad.key", 0o600)
            let cases: [[String]] = [
                ["batch", "show", "\(dir)/empty"], ["batch", "show", "\(dir)/text"], ["batch", "show", "\(dir)/big"],
                ["batch", "show", dir], ["batch", "show", "\(dir)/missing"], ["batch", "show", "\(dir)/fifo"], ["key", "show", "\(dir)/fifo"],
                ["key", "show", "\(dir)/bad.key"], ["key", "show", "\(dir)/missing"],
                ["keygen", "--out", "\(dir)/no/such/dir/k"],
                ["batch", "sign", "--key", "\(dir)/missing", "--network", "n", "--seq", "1", "--to", "\(CLI.recipient):1", "--out", "\(dir)/o"],
            ]
            for arguments in cases {
                let result = try await CLI.run(arguments)
                #expect(result.status != 0, "\(arguments) succeeded")
                #expect(result.hasOneLineError, "\(arguments): \(result.stderr)")
            }
            let tooLarge = try await CLI.run(["batch", "show", "\(dir)/big", "--json"])
            #expect(try CLI.parseJSON(tooLarge.stdout)["reason"] as? String == "too-large")
        }
    }

    @Test("every command has --help", arguments: [[], ["keygen"], ["key"], ["key", "show"], ["batch"], ["batch", "sign"], ["batch", "show"]])
    func help(command: [String]) async throws {
        let result = try await CLI.run(command + ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE:"))
    }
}

import Testing
import Foundation
import KognitaCore
import KognitaSystem
import KognitaTesting

@Suite("Key files")
struct KeyFileTests {
    let key = try! SigningKey(seed: [UInt8](testHex: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))

    @Test("a saved key loads back with mode 0600")
    func roundTrip() async throws {
        try await TemporaryDirectory.with { dir in
            let path = "\(dir)/device.key"
            try KeyFile.save(key, to: path, replace: false)
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! Int
            #expect(mode == 0o600)
            #expect(try KeyFile.load(path).publicKey == key.publicKey)
            let text = String(decoding: try FileIO.read(path, maxBytes: 4096), as: UTF8.self)
            #expect(text.contains("id d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\n"))
        }
    }

    @Test("an existing key is not replaced unless asked, and no temporary file is left behind")
    func noOverwrite() async throws {
        try await TemporaryDirectory.with { dir in
            let path = "\(dir)/device.key"
            try KeyFile.save(key, to: path, replace: false)
            let error = #expect(throws: FileError.self) { try KeyFile.save(SigningKey(), to: path, replace: false) }
            #expect(error?.isAlreadyExists == true)
            #expect(try KeyFile.load(path).publicKey == key.publicKey)
            try KeyFile.save(SigningKey(), to: path, replace: true)
            #expect(try KeyFile.load(path).publicKey != key.publicKey)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["device.key"])
        }
    }

    @Test("a key file that group or others can read is refused", arguments: [0o640, 0o604, 0o644, 0o660])
    func permissions(mode: Int) async throws {
        try await TemporaryDirectory.with { dir in
            let path = "\(dir)/device.key"
            try KeyFile.save(key, to: path, replace: false)
            chmod(path, mode_t(mode))
            let error = #expect(throws: KeyFileError.self) { try KeyFile.load(path) }
            #expect(error?.description.contains("chmod 600") == true)
        }
    }

    @Test("CRLF line ends, comments and blank lines are accepted")
    func tolerantFormat() throws {
        let text = "# a comment\r\n\r\nkognita-key v1\r\n# another\r\nseed 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\r\nid d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\r\n"
        #expect(try KeyFile.decode(Array(text.utf8), source: "k").publicKey == key.publicKey)
    }

    @Test("an unknown entry is refused without echoing it (it may be the secret)")
    func unknownEntryNotEchoed() {
        let text = "kognita-key v1\n9d61b19deffd5a60ba844af492ec2cc4 4449c5697b326919703bac031cae7f60\n"
        let error = #expect(throws: KeyFileError.self) { try KeyFile.decode(Array(text.utf8), source: "k") }
        #expect(error?.description.contains("9d61") == false)
    }

    @Test("damaged key files are refused with what is wrong",
          arguments: [
            ("", "empty"),
            ("hello\n", "not a Kognita key file"),
            ("kognita-key v1\nid d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\n", "no 'seed'"),
            ("kognita-key v1\nseed 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n", "no 'id'"),
            ("kognita-key v1\nid d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\nseed 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f61\n", "does not match"),
            ("kognita-key v1\nid d75a\nseed 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n", "expected 64 characters"),
            ("kognita-key v1\nseed zz\n", "not 0-9"),
            ("kognita-key v1\ncolour blue\n", "unknown entry"),
          ])
    func damaged(text: String, complaint: String) {
        let error = #expect(throws: KeyFileError.self) { try KeyFile.decode(Array(text.utf8), source: "k") }
        #expect(error?.description.contains(complaint) == true, "\(error?.description ?? "")")
    }
}

@Suite("libsodium")
struct SodiumTests {
    @Test("libsodium initialises and reports its version")
    func sodium() {
        #expect(Sodium.version.hasPrefix("1."))
    }
}

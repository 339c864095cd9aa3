import ArgumentParser
import Foundation
import KognitaCore
import KognitaDevnet
import KognitaSystem

struct DeviceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device", abstract: "Provision devices on the fleet's MQTT broker.", subcommands: [DeviceAddCommand.self])
}

struct DeviceAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Create a device's broker credentials and print the agent settings to use.",
        discussion: """
            The device's broker username is its device id, which the broker ACL (Config/mosquitto.acl) \
            keys on: the device may write only its own batch, sync and state topics and read only its \
            own acks. With --password-file, a random password is added to mosquitto's password file \
            (through mosquitto_passwd; send mosquitto a SIGHUP to load it). With --ca-dir, a client \
            certificate with the device id as its common name is signed by the local CA in that \
            directory instead (made on first use; needs openssl).
            """)

    @Option(help: ArgumentHelp("The device's key file (its id is used).", valueName: "path"))
    var key: String?
    @Option(help: ArgumentHelp("The device id (64 hex characters), when the key stays on the device.", valueName: "hex"))
    var id: String?
    @Option(help: ArgumentHelp("mosquitto's password file (created if missing).", valueName: "path"))
    var passwordFile: String?
    @Option(help: ArgumentHelp("Directory of the local CA for client certificates.", valueName: "dir"))
    var caDir: String?
    @Option(help: ArgumentHelp("Where to write the device's credential files.", valueName: "dir"))
    var out = "."

    func run() throws {
        guard (key == nil) != (id == nil) else { throw CLIError("give exactly one of --key PATH or --id HEX") }
        guard (passwordFile == nil) != (caDir == nil) else { throw CLIError("give exactly one of --password-file PATH or --ca-dir DIR") }
        let device: AccountID
        if let id {
            guard let parsed = try? AccountID(hex: id), id == id.lowercased() else { throw CLIError("--id must be 64 lowercase hex characters") }
            device = parsed
        } else {
            device = try accountID(key!)
        }
        if let passwordFile {
            let password = Hex.encode(Sodium.randomBytes(24))
            var arguments = ["-b", passwordFile, device.hex, password]
            if !FileManager.default.fileExists(atPath: passwordFile) { arguments.insert("-c", at: 0) }
            try runTool("mosquitto_passwd", arguments, hint: "install mosquitto (make setup)")
            let secret = "\(out)/\(device.hex.prefix(16)).broker-password"
            do throws(FileError) { try FileIO.writeAtomically(Array((password + "\n").utf8), to: secret, mode: 0o600, replace: true) } catch {
                throw CLIError("cannot write \(secret): \(error.message)")
            }
            print("""
                device \(device.hex) added to \(passwordFile) (send mosquitto SIGHUP to load it)
                its password is in \(secret) (0600); copy it to the device, then in agent.toml:

                [broker]
                username = "\(device.hex)"
                password_file = "/etc/kognita/broker-password"
                """)
        } else if let caDir {
            try ensureCA(caDir)
            let base = "\(out)/\(device.hex.prefix(16))"
            try runTool("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                    "-keyout", "\(base).key.pem", "-out", "\(base).csr", "-subj", "/CN=\(device.hex)"], hint: "install openssl")
            try runTool("openssl", ["x509", "-req", "-in", "\(base).csr", "-CA", "\(caDir)/ca.pem", "-CAkey", "\(caDir)/ca.key.pem",
                                    "-CAcreateserial", "-days", "825", "-sha256", "-out", "\(base).crt"], hint: "install openssl")
            chmod("\(base).key.pem", 0o600)
            unlink("\(base).csr")
            print("""
                device \(device.hex): certificate \(base).crt, key \(base).key.pem (0600), signed by \(caDir)/ca.pem
                copy them and the CA to the device, then in agent.toml:

                [broker]
                port = 8883
                tls_ca_file = "/etc/kognita/ca.pem"
                tls_cert_file = "/etc/kognita/device.crt"
                tls_key_file = "/etc/kognita/device.key.pem"
                """)
        }
    }

    private func ensureCA(_ dir: String) throws {
        guard !FileManager.default.fileExists(atPath: "\(dir)/ca.pem") else { return }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try runTool("openssl", ["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                "-keyout", "\(dir)/ca.key.pem", "-out", "\(dir)/ca.pem", "-days", "3650", "-subj", "/CN=Kognita fleet CA"],
                    hint: "install openssl")
        chmod("\(dir)/ca.key.pem", 0o600)
    }
}

/// Runs a tool (found on PATH, or an absolute path) to completion; its output
/// is discarded unless it fails, when the first line of its standard error
/// and `hint` (what to do) make the error.
func runTool(_ tool: String, _ arguments: [String], hint: String) throws {
    do throws(DevnetError) { try KognitaDevnet.runTool(tool, arguments, hint: hint) } catch { throw CLIError(error.description) }
}

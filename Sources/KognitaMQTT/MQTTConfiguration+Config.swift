import KognitaCore
import KognitaSystem

extension MQTTConfiguration {
    /// Reads the broker keys of `[section]` shared by the agent's and the
    /// bridge's configuration files: host, port, client_id, username,
    /// password or password_file, keep_alive, session_expiry, protocol
    /// ("5" or "3.1.1"), tls_ca_file, tls_cert_file, tls_key_file. Problems are
    /// reported through `reader` by key. Returns the settings and the password
    /// file, if one is named (read it with ``readingPassword(from:)``).
    public static func read(_ reader: inout ConfigReader, section: String = "broker",
                            defaults: MQTTConfiguration) -> (MQTTConfiguration, passwordFile: String?) {
        var c = defaults
        func nonEmpty(_ key: String) -> String? { reader.string(section, key).flatMap { $0.isEmpty ? nil : $0 } }
        c.host = reader.string(section, "host") ?? c.host
        c.port = Int(reader.unsigned(section, "port", range: 1...65535) ?? UInt64(c.port))
        c.clientID = reader.string(section, "client_id") ?? c.clientID
        c.username = nonEmpty("username")
        c.password = nonEmpty("password")
        let passwordFile = nonEmpty("password_file")
        if c.password != nil && passwordFile != nil {
            reader.fail("\(section).password_file", "set either \(section).password or \(section).password_file, not both")
        }
        c.keepAliveSeconds = Int32(reader.unsigned(section, "keep_alive", range: 5...3600) ?? UInt64(c.keepAliveSeconds))
        c.sessionExpirySeconds = UInt32(reader.unsigned(section, "session_expiry", range: 0...UInt64(UInt32.max)) ?? UInt64(c.sessionExpirySeconds))
        if let version = reader.string(section, "protocol") {
            switch version {
            case "5": c.protocolVersion = .v5
            case "3.1.1": c.protocolVersion = .v311
            default: reader.fail("\(section).protocol", "'\(version)' is not \"5\" or \"3.1.1\"")
            }
        }
        let ca = nonEmpty("tls_ca_file"), cert = nonEmpty("tls_cert_file"), key = nonEmpty("tls_key_file")
        if ca != nil || cert != nil || key != nil {
            if ca == nil { reader.fail("\(section).tls_ca_file", "TLS needs the CA that signed the broker's certificate") }
            c.tls = .init(caFile: ca, certificateFile: cert, keyFile: key)
        }
        return (c, passwordFile)
    }

    /// These settings with the password read from `path`, a private file
    /// (mode 0600: for example a systemd credential); a final newline is dropped.
    public func readingPassword(from path: String?) throws(FileError) -> MQTTConfiguration {
        guard let path else { return self }
        var resolved = self
        var bytes = try FileIO.read(path, maxBytes: 4096, requirePrivate: true)
        defer { bytes.withUnsafeMutableBytes { Sodium.zero($0) } }
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard !bytes.isEmpty else { throw FileError(path, "is empty; it should hold the broker password") }
        resolved.password = String(decoding: bytes, as: UTF8.self)
        return resolved
    }
}

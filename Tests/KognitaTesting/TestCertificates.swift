import Foundation

/// A throwaway PKI for TLS tests, made with the openssl command: a CA, a
/// broker certificate for localhost / 127.0.0.1, and a second, unrelated CA.
public struct TestCertificates {
    public let caFile: String
    public let otherCAFile: String
    public let serverCertificate: String
    public let serverKey: String

    /// Generates everything in `directory`.
    public init(in directory: String) throws {
        caFile = "\(directory)/ca.pem"
        otherCAFile = "\(directory)/other-ca.pem"
        serverCertificate = "\(directory)/server.pem"
        serverKey = "\(directory)/server.key"
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                          "-subj", "/CN=Kognita test CA", "-keyout", "\(directory)/ca.key", "-out", caFile], in: directory)
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                          "-subj", "/CN=Someone else's CA", "-keyout", "\(directory)/other-ca.key", "-out", otherCAFile], in: directory)
        try Self.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-subj", "/CN=localhost", "-keyout", serverKey, "-out", "\(directory)/server.csr"], in: directory)
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: "\(directory)/san.ext")
        try Self.openssl(["x509", "-req", "-in", "\(directory)/server.csr", "-CA", caFile, "-CAkey", "\(directory)/ca.key",
                          "-CAcreateserial", "-days", "2", "-extfile", "\(directory)/san.ext", "-out", serverCertificate], in: directory)
        // mosquitto drops to its own user only when started as root without 'user'; our broker runs as us, so 0644 is fine.
        for file in [serverKey] { chmod(file, 0o644) }
    }

    private static func openssl(_ arguments: [String], in directory: String) throws {
        let result = try ChildProcess.runBlocking("/usr/bin/openssl", arguments, currentDirectory: directory)
        guard result.status == 0 else { throw TestSupportError("openssl \(arguments.first ?? "") failed: \(result.stderr)") }
    }

    /// mosquitto settings for the current listener to speak TLS 1.2+ with this PKI.
    public var brokerConfiguration: String {
        "cafile \(caFile)\ncertfile \(serverCertificate)\nkeyfile \(serverKey)\ntls_version tlsv1.2\n"
    }
}

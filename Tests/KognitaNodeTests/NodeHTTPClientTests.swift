import Testing
import Foundation
import KognitaNode
import KognitaSystem
#if canImport(Glibc)
import Glibc
#endif

@Suite("node HTTP client")
struct NodeHTTPClientTests {
    @Test("a node that accepts the connection but never answers: the error says it did not answer in time, not 'I/O on closed channel'")
    func silentNodeTimesOutWithAClearError() async throws {
        // A listening socket that is never read: the kernel completes the
        // TCP handshake, so the client connects, sends, and waits.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(bound == 0)
        #expect(listen(listener, 4) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))

        let client = try NodeHTTPClient(url: "http://127.0.0.1:\(port)")
        do {
            _ = try await client.request(.GET, "/v1/status", timeout: .seconds(1))
            Issue.record("a node that never answers gave a response")
        } catch {
            let message = "\(error)"
            #expect(message.contains("did not answer GET /v1/status within"), "\(message)")
            #expect(!message.contains("closed channel"), "\(message)")
        }
    }
}

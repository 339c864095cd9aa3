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

    @Test("a node that answers and closes its side before the whole request is written: the client returns the answer, not 'I/O on closed channel'")
    func earlyAnswerIsRead() async throws {
        // A server that answers as soon as it has the request head, closes its
        // writing side, then reads the rest: what Hummingbird does with
        // Connection: close when the client is slow to send its last bytes (a
        // loaded machine). An 8 MiB body takes many event-loop turns to send,
        // so the answer and the FIN arrive while it is still being written.
        let listener = try LoopbackListener()
        let listening = listener.fd
        let server = Thread {
            let connection = accept(listening, nil, nil)
            guard connection >= 0 else { return }
            defer { close(connection) }
            var request: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while !request.ends(with: Array("\r\n\r\n".utf8)) && request.count < 65536 {
                let count = read(connection, &chunk, 1)
                if count <= 0 { return }
                request.append(chunk[0])
            }
            let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nearly".utf8)
            _ = answer.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            shutdown(connection, Int32(SHUT_WR))
            while read(connection, &chunk, chunk.count) > 0 {}
        }
        server.start()
        let client = try NodeHTTPClient(url: "http://127.0.0.1:\(listener.port)")
        // The listener must outlive the request (an optimised build may release it early).
        defer { withExtendedLifetime(listener) {} }
        let response = try await client.request(.POST, "/v1/batches", body: [UInt8](repeating: 7, count: 8 << 20), timeout: .seconds(20))
        #expect(response.status == 200)
        #expect(response.text == "early")
    }
}

/// A listening TCP socket on 127.0.0.1 on a port the kernel picks.
final class LoopbackListener: Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 4) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}

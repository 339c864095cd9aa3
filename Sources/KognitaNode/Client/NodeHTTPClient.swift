import KognitaSystem
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 client for a node's API (`kognita account show`,
/// `batch submit`, `faucet`, tests): one request per connection, a bounded
/// response, a timeout. Only `http://` URLs: the API binds to 127.0.0.1 by
/// default; put a TLS proxy in front to reach it from elsewhere.
public struct NodeHTTPClient: Sendable {
    public let host: String
    public let port: Int
    /// The URL's path, without a trailing slash ("" for a bare host).
    public let basePath: String
    /// The largest response body read.
    public static let maxResponseBytes = 16 << 20

    /// Parses `http://host[:port][/path]` (port 80 when absent).
    public init(url: String) throws(NodeURLError) {
        guard url.hasPrefix("http://") else { throw NodeURLError("--node must be an http:// URL such as http://127.0.0.1:8401, not \(url)") }
        var rest = Substring(url.dropFirst("http://".count))
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        while path.hasSuffix("/") { path.removeLast() }
        var host = String(rest), port = 80
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let parsed = Int(rest[rest.index(after: colon)...]), (1...65535).contains(parsed) else {
                throw NodeURLError("the port in \(url) is not a number from 1 to 65535")
            }
            port = parsed
            host = String(rest[..<colon])
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw NodeURLError("\(url) has no host") }
        self.host = host
        self.port = port
        basePath = path
    }

    /// A response: the status code and the body.
    public struct Response: Sendable {
        public let status: Int
        public let body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }

        public init(status: Int, body: [UInt8]) {
            self.status = status
            self.body = body
        }
    }

    /// Sends one request and reads the whole response.
    public func request(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, contentType: String = "application/octet-stream",
                        headers: [(String, String)] = [], timeout: Duration = .seconds(60)) async throws -> Response {
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                // A node that has answered closes its side (we ask it to:
                // Connection: close). Without half-closure NIO would then close
                // ours too, and a request part still being written would fail
                // with 'I/O on closed channel' although the answer had arrived.
                .channelOption(.allowRemoteHalfClosure, value: true)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw NodeURLError("cannot connect to the node at \(host):\(port) (\(error)); is kognita-node running, and is this its [api] listen address?")
        }
        let timedOut = Protected(false)
        let timer = channel.channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)) {
            timedOut.withLock { $0 = true }
            channel.channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            return try await exchange(over: channel, method, path, body: body, contentType: contentType, headers: headers, timeout: timeout)
        } catch where timedOut.withLock({ $0 }) {
            // Closing the channel is how the timeout stops the exchange; say
            // so, rather than NIO's "I/O on closed channel".
            throw NodeURLError("the node at \(host):\(port) did not answer \(method) \(path) within \(timeout); it may be overloaded or stuck (see its log and /v1/status)")
        }
    }

    private func exchange(over channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>, _ method: HTTPMethod, _ path: String,
                          body: [UInt8]?, contentType: String, headers: [(String, String)], timeout: Duration) async throws -> Response {
        try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: basePath + path)
            head.headers.add(name: "Host", value: "\(host):\(port)")
            head.headers.add(name: "Connection", value: "close")
            head.headers.add(name: "User-Agent", value: "kognita")
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            if let body {
                head.headers.add(name: "Content-Type", value: contentType)
                head.headers.add(name: "Content-Length", value: "\(body.count)")
            }
            // One write for the whole request: its parts reach the socket in one
            // event-loop turn, never with the node's answer processed in between.
            var parts: [HTTPClientRequestPart] = [.head(head)]
            if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            parts.append(.end(nil))
            // A node may answer before it has read the whole request (an early
            // 413, or an answer racing our last bytes on a loaded machine) and
            // close: what it said is still in the inbound stream, so read it
            // rather than report the failed write.
            var writeError: (any Error)?
            do { try await outbound.write(contentsOf: parts) } catch { writeError = error }
            var status: Int?
            var received: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let response): status = Int(response.status.code)
                case .body(var buffer):
                    guard received.count + buffer.readableBytes <= Self.maxResponseBytes else {
                        throw NodeURLError("the node's response is larger than \(Self.maxResponseBytes) bytes")
                    }
                    received += buffer.readBytes(length: buffer.readableBytes) ?? []
                case .end:
                    guard let status else { throw NodeURLError("the node sent a response without a status") }
                    return Response(status: status, body: received)
                }
            }
            if let writeError {
                throw NodeURLError("the node at \(host):\(port) closed the connection while \(method) \(path) was being sent (\(writeError)); is it restarting? try again")
            }
            throw NodeURLError("the node at \(host):\(port) closed the connection before it answered (timeout \(timeout))")
        }
    }
}

/// A node URL that cannot be used, or a node that cannot be reached.
public struct NodeURLError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

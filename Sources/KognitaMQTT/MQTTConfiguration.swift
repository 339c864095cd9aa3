/// How an ``MQTTClient`` connects.
public struct MQTTConfiguration: Sendable {
    /// MQTT protocol version spoken to the broker.
    public enum ProtocolVersion: Sendable, Hashable {
        case v311, v5
    }

    /// TLS settings. TLS 1.2 is the minimum; the broker's certificate is
    /// always verified against the CA, hostname included.
    public struct TLS: Sendable, Hashable {
        /// PEM file of the CA(s) that signed the broker's certificate.
        public var caFile: String?
        /// Directory of CA certificates (c_rehash layout), instead of or besides `caFile`.
        public var caPath: String?
        /// PEM client certificate, for brokers that authenticate devices by certificate.
        public var certificateFile: String?
        /// PEM private key of the client certificate.
        public var keyFile: String?

        public init(caFile: String? = nil, caPath: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.caPath = caPath
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    /// A message the broker publishes for this client when it disappears.
    public struct Will: Sendable, Hashable {
        public var topic: String
        public var payload: [UInt8]
        public var qos: Int32
        public var retain: Bool

        public init(topic: String, payload: [UInt8], qos: Int32 = 1, retain: Bool = true) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
        }
    }

    public var host: String
    public var port: Int
    /// The MQTT client id; with a persistent session it must be stable.
    public var clientID: String
    /// Start with a clean session (MQTT v5 clean start / v3.1.1 clean session).
    public var cleanStart: Bool
    /// MQTT v5 session expiry in seconds: how long the broker keeps this
    /// client's subscriptions and queued messages while it is away. Sent on
    /// every connect, including reconnects.
    public var sessionExpirySeconds: UInt32
    /// Keep-alive interval in seconds (at least 5).
    public var keepAliveSeconds: Int32
    public var username: String?
    public var password: String?
    public var tls: TLS?
    public var will: Will?
    public var protocolVersion: ProtocolVersion
    /// First reconnect delay; doubles up to ``reconnectDelayMaxSeconds``, each
    /// wait drawn uniformly from [delay / 2, delay] so a fleet does not
    /// reconnect in step after a broker restart.
    public var reconnectDelayMinSeconds: Double
    /// Longest reconnect delay.
    public var reconnectDelayMaxSeconds: Double
    /// Incoming messages buffered for the application; past this, new
    /// messages are dropped and counted (QoS 1 delivery is already PUBACKed
    /// by libmosquitto, so end-to-end acks must cover them anyway).
    public var inboundBufferSize: Int

    public init(host: String = "127.0.0.1", port: Int = 1883, clientID: String, cleanStart: Bool = false,
                sessionExpirySeconds: UInt32 = 3600, keepAliveSeconds: Int32 = 30,
                username: String? = nil, password: String? = nil, tls: TLS? = nil, will: Will? = nil,
                protocolVersion: ProtocolVersion = .v5,
                reconnectDelayMinSeconds: Double = 0.5, reconnectDelayMaxSeconds: Double = 30,
                inboundBufferSize: Int = 1024) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.cleanStart = cleanStart
        self.sessionExpirySeconds = sessionExpirySeconds
        self.keepAliveSeconds = keepAliveSeconds
        self.username = username
        self.password = password
        self.tls = tls
        self.will = will
        self.protocolVersion = protocolVersion
        self.reconnectDelayMinSeconds = reconnectDelayMinSeconds
        self.reconnectDelayMaxSeconds = reconnectDelayMaxSeconds
        self.inboundBufferSize = inboundBufferSize
    }
}

/// A message received from the broker.
public struct MQTTMessage: Sendable, Hashable {
    public let topic: String
    public let payload: [UInt8]
    public let qos: Int32
    public let retained: Bool
}

/// Connection state changes, for logging and for the application's own
/// reactions (for example, resending what awaits an end-to-end ack).
public enum MQTTEvent: Sendable, Hashable {
    /// CONNACK accepted. `sessionPresent`: the broker still had our session.
    case connected(sessionPresent: Bool)
    /// The broker refused the connection (for example bad credentials); it
    /// will be retried with backoff.
    case refused(reasonCode: Int32, description: String)
    /// The connection was lost or could not be made; it will be retried.
    case disconnected(description: String)
    /// The broker refused a publish or subscription that nobody awaited
    /// (typically its ACL): the description says which and why.
    case operationRefused(description: String)
}

/// An operation on the signer's own account, carried by a version-2 batch
/// (key 7). Operations sit in the account's chain next to its payments, so
/// they are ordered with them: a device cannot spend what it bonds, nor bond
/// what it spends, whatever order the network sees them in.
///
/// Encoded as a map with small integer keys, like a transfer:
/// `{0: type, 1: amount}` for bond and unbond, `{0: 3, 2: node, 3: addresses,
/// 4: node signature}` for a registration.
public enum Operation: Sendable, Hashable {
    /// Moves `amount` from the balance into bonded stake (type 1).
    case bond(Amount)
    /// Starts returning `amount` of bonded stake to the balance (type 2); it
    /// becomes spendable once the evidence window after the account's last
    /// committee seat has passed.
    case unbond(Amount)
    /// Registers (or re-registers) the account's validator candidate (type 3).
    case register(Registration)

    /// The type codes of key 0.
    public enum Kind: UInt64, Sendable {
        case bond = 1, unbond = 2, register = 3
    }

    public var kind: Kind {
        switch self {
        case .bond: .bond
        case .unbond: .unbond
        case .register: .register
        }
    }

    /// Checks the contract's rules that need no ledger state; `field` names it in errors.
    public func validate(field: @autoclosure () -> String) throws(ProtocolError) {
        switch self {
        case .bond(let amount), .unbond(let amount):
            guard amount.baseUnits >= 1 else { throw .malformed("\(field()).amount", "amount must be at least 1 base unit") }
        case .register(let registration):
            try registration.validate(field: field())
        }
    }

    func write(to writer: inout CBORWriter) {
        switch self {
        case .bond(let amount), .unbond(let amount):
            writer.writeMapHeader(2)
            writer.writeUnsigned(0); writer.writeUnsigned(kind.rawValue)
            writer.writeUnsigned(1); writer.writeUnsigned(amount.baseUnits)
        case .register(let registration):
            writer.writeMapHeader(4)
            writer.writeUnsigned(0); writer.writeUnsigned(kind.rawValue)
            writer.writeUnsigned(2); writer.writeBytes(registration.node.rawValue)
            writer.writeUnsigned(3); writer.writeArrayHeader(registration.addresses.count)
            for address in registration.addresses { writer.writeText(address) }
            writer.writeUnsigned(4); writer.writeBytes(registration.nodeSignature.bytes)
        }
    }

    static func read(from reader: inout FieldReader, index: Int) throws(ProtocolError) -> Operation {
        func path(_ name: String) -> String { "batch.operations[\(index)]\(name)" }
        let count = try reader.mapHeader(path(""))
        var previous: UInt64? = nil
        var type: UInt64?, amount: UInt64?, node: Bytes32?, addresses: [String]?, signature: Signature?
        for _ in 0..<count {
            switch try reader.key(after: &previous, path("")) {
            case 0: type = try reader.unsigned(path(".type"))
            case 1: amount = try reader.unsigned(path(".amount"))
            case 2: node = try reader.bytes32(path(".node"))
            case 3:
                let n = try reader.arrayHeader(path(".addresses"))
                guard n <= Registration.maxAddresses else {
                    throw ProtocolError(.tooLarge, path(".addresses"), "\(n) addresses; the limit is \(Registration.maxAddresses)")
                }
                var list: [String] = []
                for position in 0..<n { list.append(try reader.text(maxBytes: Registration.maxAddressBytes, path(".addresses[\(position)]"))) }
                addresses = list
            case 4:
                let range = try reader.byteStringRange(path(".signature"))
                guard range.count == Signature.byteCount else {
                    throw .malformed(path(".signature"), "signature is \(range.count) bytes; Ed25519 signatures are 64")
                }
                signature = try! Signature(bytes: reader.cbor.bytes[range]) // length checked above
            case let key:
                throw .malformed(path(""), "unknown key \(key) (an operation has keys 0-4)")
            }
        }
        let code = try require(type, path(".type"), key: 0)
        guard let kind = Kind(rawValue: code) else {
            throw .malformed(path(".type"), "unknown operation type \(code) (1 bond, 2 unbond, 3 register)")
        }
        switch kind {
        case .bond, .unbond:
            guard node == nil, addresses == nil, signature == nil else {
                throw .malformed(path(""), "a bond or unbond has only keys 0 and 1")
            }
            let value = Amount(try require(amount, path(".amount"), key: 1))
            return kind == .bond ? .bond(value) : .unbond(value)
        case .register:
            guard amount == nil else { throw .malformed(path(""), "a registration has keys 0, 2, 3 and 4") }
            return .register(Registration(node: PublicKey(try require(node, path(".node"), key: 2)),
                                          addresses: try require(addresses, path(".addresses"), key: 3),
                                          nodeSignature: try require(signature, path(".signature"), key: 4)))
        }
    }
}

/// A validator candidate's registration: the node's identity key and a peer
/// record (its addresses), signed by the node key. The account key signs the
/// batch that carries it, so both keys agree: the account vouches for the
/// node with its bond, and the node consents to act for the account.
public struct Registration: Sendable, Hashable {
    /// The node's Ed25519 identity (its votes and peer links use it).
    public var node: PublicKey
    /// `host:port` addresses of the node's peer listener, 1 to ``maxAddresses``.
    public var addresses: [String]
    /// The node key's signature over ``signingBytes(network:account:node:addresses:)``.
    public var nodeSignature: Signature

    /// The most addresses a peer record lists.
    public static let maxAddresses = 4
    /// The longest address, in UTF-8 bytes.
    public static let maxAddressBytes = 64
    /// The context string at the head of the signed peer record.
    public static let context = "kognita-register-v1"

    public init(node: PublicKey, addresses: [String], nodeSignature: Signature) {
        self.node = node
        self.addresses = addresses
        self.nodeSignature = nodeSignature
    }

    /// A registration for `account` on `network`, signed by the node's key.
    public static func sign(network: NetworkID, account: AccountID, addresses: [String], nodeKey: SigningKey) -> Registration {
        let bytes = signingBytes(network: network, account: account, node: nodeKey.publicKey, addresses: addresses)
        return Registration(node: nodeKey.publicKey, addresses: addresses, nodeSignature: nodeKey.signature(for: bytes))
    }

    /// What the node key signs: CBOR `["kognita-register-v1", network, account, node, [addresses]]`.
    public static func signingBytes(network: NetworkID, account: AccountID, node: PublicKey, addresses: [String]) -> [UInt8] {
        var writer = CBORWriter(reservingCapacity: 128)
        writer.writeArrayHeader(5)
        writer.writeText(context)
        writer.writeText(network.rawValue)
        writer.writeBytes(account.rawValue)
        writer.writeBytes(node.rawValue)
        writer.writeArrayHeader(addresses.count)
        for address in addresses { writer.writeText(address) }
        return writer.bytes
    }

    /// Whether the node's signature holds for `account` on `network`.
    public func isSigned(network: NetworkID, account: AccountID) -> Bool {
        node.isValidSignature(nodeSignature, for: Self.signingBytes(network: network, account: account, node: node, addresses: addresses))
    }

    func validate(field: @autoclosure () -> String) throws(ProtocolError) {
        guard !addresses.isEmpty else {
            throw .malformed("\(field()).addresses", "a registration lists 1 to \(Self.maxAddresses) addresses, not none")
        }
        // The reason the decoder gives for the same list (docs/PROTOCOL.md: more than 4 is too-large).
        guard addresses.count <= Self.maxAddresses else {
            throw ProtocolError(.tooLarge, "\(field()).addresses", "\(addresses.count) addresses; the limit is \(Self.maxAddresses)")
        }
        for (index, address) in addresses.enumerated() {
            guard address.utf8.count <= Self.maxAddressBytes, Self.isHostPort(address) else {
                throw .malformed("\(field()).addresses[\(index)]", "an address is host:port with a port 1-65535, at most \(Self.maxAddressBytes) bytes")
            }
        }
    }

    /// `host:port` with a non-empty host and a port 1-65535 (IPv6 hosts in brackets).
    static func isHostPort(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let colon = bytes.lastIndex(of: UInt8(ascii: ":")), colon > 0, colon < bytes.count - 1, bytes.count - colon - 1 <= 5 else { return false }
        var port = 0
        for byte in bytes[(colon + 1)...] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return false }
            port = port * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return port >= 1 && port <= 65535
    }
}

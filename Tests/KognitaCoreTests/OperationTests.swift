import Testing
import KognitaCore
import KognitaTesting

/// Builders for the version-2 (operations) batch tests. Private, and named
/// apart from BatchTests' `Fixtures`, so the two files never collide.
private enum OperationFixtures {
    static let device = try! SigningKey(seed: [UInt8](repeating: 2, count: 32))
    static let nodeKey = try! SigningKey(seed: [UInt8](repeating: 3, count: 32))
    static let recipient = try! AccountID(bytes: [UInt8](repeating: 0xcd, count: 32))
    static let network = try! NetworkID("kognita-devnet")
    static let created: UInt64 = 1_764_000_000_000
    static let addresses = ["10.0.0.1:7400", "[::1]:7400", "node.example:65535"]

    /// A registration of `nodeKey` for `device` on `network`, properly signed by the node.
    static var registration: Registration {
        Registration.sign(network: network, account: device.publicKey, addresses: addresses, nodeKey: nodeKey)
    }

    static func batch(operations: [Operation], transfers: Int = 0, fee: Amount = 0) -> Batch {
        Batch(network: network, seq: 1, created: created, fee: fee,
              transfers: (0..<transfers).map { Transfer(to: recipient, amount: Amount(UInt64(10 + $0))) },
              operations: operations)
    }

    /// A batch map written by hand in the documented layout (keys 0-6, and key
    /// 7 when `operations` is given), so the decoder can be fed what the
    /// encoder refuses to write. `operations` are already-encoded items.
    static func rawBatch(version: UInt64, transfers: [UInt64] = [], operations: [[UInt8]]?) -> [UInt8] {
        var w = CBORWriter()
        w.writeMapHeader(operations == nil ? 7 : 8)
        w.writeUnsigned(0); w.writeUnsigned(version)
        w.writeUnsigned(1); w.writeText(network.rawValue)
        w.writeUnsigned(2); w.writeUnsigned(1)
        w.writeUnsigned(3); w.writeBytes(Bytes32.zero)
        w.writeUnsigned(4); w.writeUnsigned(created)
        w.writeUnsigned(5); w.writeUnsigned(0)
        w.writeUnsigned(6); w.writeArrayHeader(transfers.count)
        for amount in transfers {
            w.writeMapHeader(2)
            w.writeUnsigned(0); w.writeBytes(recipient.rawValue)
            w.writeUnsigned(1); w.writeUnsigned(amount)
        }
        if let operations {
            w.writeUnsigned(7); w.writeArrayHeader(operations.count)
            for operation in operations { w.writeEncoded(operation) }
        }
        return w.bytes
    }

    /// `{0: type, 1: amount}`: a bond (1) or unbond (2), or any other type code.
    static func rawAmountOperation(type: UInt64, amount: UInt64) -> [UInt8] {
        var w = CBORWriter()
        w.writeMapHeader(2)
        w.writeUnsigned(0); w.writeUnsigned(type)
        w.writeUnsigned(1); w.writeUnsigned(amount)
        return w.bytes
    }

    /// `{0: 3, 2: node, 3: [addresses], 4: signature}`.
    static func rawRegistration(node: PublicKey = nodeKey.publicKey, addresses: [String], signature: [UInt8]? = nil) -> [UInt8] {
        var w = CBORWriter()
        w.writeMapHeader(4)
        w.writeUnsigned(0); w.writeUnsigned(3)
        w.writeUnsigned(2); w.writeBytes(node.rawValue)
        w.writeUnsigned(3); w.writeArrayHeader(addresses.count)
        for address in addresses { w.writeText(address) }
        w.writeUnsigned(4); w.writeBytes(signature ?? registration.nodeSignature.bytes)
        return w.bytes
    }
}

@Suite("Version-2 batches: operations (bond, unbond, register)")
struct OperationTests {
    fileprivate typealias F = OperationFixtures

    // MARK: Round trips

    @Test("a version-2 batch with each kind of operation round-trips through its encoding and its signed envelope",
          arguments: ["bond", "unbond", "register", "all three with transfers"])
    func roundTrip(kind: String) throws {
        let operations: [Operation], transfers: Int
        switch kind {
        case "bond": (operations, transfers) = ([.bond(500)], 0)
        case "unbond": (operations, transfers) = ([.unbond(200)], 0)
        case "register": (operations, transfers) = ([.register(F.registration)], 0)
        default: (operations, transfers) = ([.bond(500), .register(F.registration), .unbond(1)], 2)
        }
        let batch = F.batch(operations: operations, transfers: transfers, fee: 3)
        #expect(batch.version == Batch.versionWithOperations)
        let payload = try batch.encoded()
        #expect(payload.first == 0xa8, "a version-2 batch is a map of 8 keys")
        #expect(Array(payload[1...2]) == [0x00, 0x02], "key 0 (version) is 2")
        let decoded = try Batch(decoding: payload)
        #expect(decoded == batch)
        #expect(decoded.operations.map(\.kind) == operations.map(\.kind))
        #expect(try decoded.encoded() == payload, "the encoding is canonical")

        let signed = try SignedBatch.sign(batch, with: F.device)
        let verified = try SignedBatch.verify(signed.envelope, expectedNetwork: F.network)
        #expect(verified.batch == batch)
        #expect(verified.payload == payload)
        #expect(verified.id == BatchID(payload: payload))
    }

    @Test("the encoder writes exactly the documented layout: {0: type, 1: amount} and {0: 3, 2: node, 3: [addresses], 4: signature} under key 7")
    func documentedLayout() throws {
        let registration = F.registration
        let batch = F.batch(operations: [.bond(500), .unbond(200), .register(registration)])
        let byHand = F.rawBatch(version: 2, operations: [
            F.rawAmountOperation(type: 1, amount: 500),
            F.rawAmountOperation(type: 2, amount: 200),
            F.rawRegistration(addresses: F.addresses, signature: registration.nodeSignature.bytes),
        ])
        #expect(try batch.encoded() == byHand)
        #expect(try Batch(decoding: byHand) == batch)
    }

    @Test("a batch with no operations is exactly version 1: version 1, 7 keys, no key 7, the same bytes as before")
    func noOperationsIsVersionOne() throws {
        let batch = F.batch(operations: [], transfers: 2)
        #expect(batch.version == Batch.version)
        let payload = try batch.encoded()
        #expect(payload == F.rawBatch(version: 1, transfers: [10, 11], operations: nil))
        #expect(payload.first == 0xa7, "a version-1 batch is a map of 7 keys")
        #expect(Array(payload[1...2]) == [0x00, 0x01])
        let decoded = try Batch(decoding: payload)
        #expect(decoded.operations.isEmpty)
        #expect(decoded.version == Batch.version)
        #expect(decoded == batch)
    }

    @Test("the registration's node signature covers the documented record [\"kognita-register-v1\", network, account, node, [addresses]]")
    func registrationSigningBytes() throws {
        var w = CBORWriter()
        w.writeArrayHeader(5)
        w.writeText("kognita-register-v1")
        w.writeText(F.network.rawValue)
        w.writeBytes(F.device.publicKey.rawValue)
        w.writeBytes(F.nodeKey.publicKey.rawValue)
        w.writeArrayHeader(F.addresses.count)
        for address in F.addresses { w.writeText(address) }
        #expect(Registration.signingBytes(network: F.network, account: F.device.publicKey, node: F.nodeKey.publicKey, addresses: F.addresses) == w.bytes)
        let registration = F.registration
        #expect(F.nodeKey.publicKey.isValidSignature(registration.nodeSignature, for: w.bytes))
        #expect(registration.isSigned(network: F.network, account: F.device.publicKey))
        #expect(!registration.isSigned(network: F.network, account: F.recipient), "signed for another account")
        #expect(!registration.isSigned(network: try NetworkID("other"), account: F.device.publicKey), "signed for another network")
    }

    @Test("bonds count in the batch's debit; unbonds and registrations do not")
    func debitCountsBonds() throws {
        let batch = F.batch(operations: [.bond(100), .unbond(50), .register(F.registration), .bond(7)], transfers: 1, fee: 3)
        #expect(try batch.totalDebit() == Amount(10 + 3 + 100 + 7))
        var overflowing = F.batch(operations: [.bond(.max)], transfers: 1)
        #expect(throws: AmountError.self) { try overflowing.totalDebit() }
        let error = #expect(throws: ProtocolError.self) { try overflowing.encoded() }
        #expect(error?.reason == .malformed)
        overflowing.transfers = []
        _ = try overflowing.encoded() // a bond of exactly 2^64 - 1 alone is fine
    }

    @Test("16 operations are allowed, by the encoder and the decoder")
    func sixteenOperations() throws {
        let batch = F.batch(operations: Array(repeating: .bond(1), count: Batch.maxOperations))
        #expect(try Batch(decoding: batch.encoded()) == batch)
        let raw = F.rawBatch(version: 2, operations: Array(repeating: F.rawAmountOperation(type: 1, amount: 1), count: 16))
        #expect(try Batch(decoding: raw) == batch)
    }

    @Test("an address of exactly 64 bytes and a port of 65535 are accepted")
    func addressBoundaries() throws {
        let longest = String(repeating: "a", count: 58) + ":65535"
        #expect(longest.utf8.count == Registration.maxAddressBytes)
        let raw = F.rawBatch(version: 2, operations: [F.rawRegistration(addresses: [longest, "h:1", "h:2", "h:3"])])
        let decoded = try Batch(decoding: raw)
        guard case .register(let registration) = decoded.operations.first else { Issue.record("not a registration"); return }
        #expect(registration.addresses == [longest, "h:1", "h:2", "h:3"])
    }

    // MARK: Strict decoding

    @Test("strict decoding refuses what the contract forbids, naming the field",
          arguments: [
            ("key 7 in a version-1 batch", "batch"),
            ("version 2 without key 7", "batch.operations"),
            ("version 2 with an empty operations list", "batch.operations"),
            ("17 operations", "batch.operations"),
            ("unknown operation type 4", "batch.operations[0].type"),
            ("operation type 0", "batch.operations[0].type"),
            ("a bond of 0", "batch.operations[0].amount"),
            ("a bond with a node key", "batch.operations[0]"),
            ("a registration with an amount", "batch.operations[0]"),
            ("a registration without a signature", "batch.operations[0].signature"),
            ("a registration with 0 addresses", "batch.operations[0].addresses"),
            ("a registration with 5 addresses", "batch.operations[0].addresses"),
            ("an address of 65 bytes", "batch.operations[0].addresses[1]"),
            ("an address without a port", "batch.operations[0].addresses[1]"),
            ("an address with an empty port", "batch.operations[0].addresses[1]"),
            ("an address with port 0", "batch.operations[0].addresses[1]"),
            ("an address with port 65536", "batch.operations[0].addresses[1]"),
            ("an address without a host", "batch.operations[0].addresses[1]"),
          ])
    func strictDecoding(name: String, field: String) throws {
        let bond = F.rawAmountOperation(type: 1, amount: 5)
        func registration(_ second: String) -> [UInt8] { F.rawRegistration(addresses: ["10.0.0.1:7400", second]) }
        let raw: [UInt8]
        switch name {
        case "key 7 in a version-1 batch": raw = F.rawBatch(version: 1, transfers: [10], operations: [bond])
        case "version 2 without key 7": raw = F.rawBatch(version: 2, transfers: [10], operations: nil)
        case "version 2 with an empty operations list": raw = F.rawBatch(version: 2, transfers: [10], operations: [])
        case "17 operations": raw = F.rawBatch(version: 2, operations: Array(repeating: bond, count: 17))
        case "unknown operation type 4": raw = F.rawBatch(version: 2, operations: [F.rawAmountOperation(type: 4, amount: 5)])
        case "operation type 0": raw = F.rawBatch(version: 2, operations: [F.rawAmountOperation(type: 0, amount: 5)])
        case "a bond of 0": raw = F.rawBatch(version: 2, operations: [F.rawAmountOperation(type: 1, amount: 0)])
        case "a bond with a node key":
            var w = CBORWriter()
            w.writeMapHeader(3)
            w.writeUnsigned(0); w.writeUnsigned(1)
            w.writeUnsigned(1); w.writeUnsigned(5)
            w.writeUnsigned(2); w.writeBytes(F.nodeKey.publicKey.rawValue)
            raw = F.rawBatch(version: 2, operations: [w.bytes])
        case "a registration with an amount":
            var w = CBORWriter()
            w.writeMapHeader(5)
            w.writeUnsigned(0); w.writeUnsigned(3)
            w.writeUnsigned(1); w.writeUnsigned(5)
            w.writeUnsigned(2); w.writeBytes(F.nodeKey.publicKey.rawValue)
            w.writeUnsigned(3); w.writeArrayHeader(1); w.writeText("h:1")
            w.writeUnsigned(4); w.writeBytes(F.registration.nodeSignature.bytes)
            raw = F.rawBatch(version: 2, operations: [w.bytes])
        case "a registration without a signature":
            var w = CBORWriter()
            w.writeMapHeader(3)
            w.writeUnsigned(0); w.writeUnsigned(3)
            w.writeUnsigned(2); w.writeBytes(F.nodeKey.publicKey.rawValue)
            w.writeUnsigned(3); w.writeArrayHeader(1); w.writeText("h:1")
            raw = F.rawBatch(version: 2, operations: [w.bytes])
        case "a registration with 0 addresses": raw = F.rawBatch(version: 2, operations: [F.rawRegistration(addresses: [])])
        case "a registration with 5 addresses":
            raw = F.rawBatch(version: 2, operations: [F.rawRegistration(addresses: (1...5).map { "h:\($0)" })])
        case "an address of 65 bytes": raw = F.rawBatch(version: 2, operations: [registration(String(repeating: "a", count: 59) + ":65535")])
        case "an address without a port": raw = F.rawBatch(version: 2, operations: [registration("node.example")])
        case "an address with an empty port": raw = F.rawBatch(version: 2, operations: [registration("node.example:")])
        case "an address with port 0": raw = F.rawBatch(version: 2, operations: [registration("node.example:0")])
        case "an address with port 65536": raw = F.rawBatch(version: 2, operations: [registration("node.example:65536")])
        case "an address without a host": raw = F.rawBatch(version: 2, operations: [registration(":7400")])
        default: Issue.record("unknown case \(name)"); return
        }
        let error = #expect(throws: ProtocolError.self, "\(name) was accepted") { try Batch(decoding: raw) }
        #expect(error?.field == field, "\(name): \(error.map(String.init(describing:)) ?? "-")")
        if name == "a registration with 5 addresses" {
            #expect(error?.reason == .tooLarge, "docs/PROTOCOL.md: more than 4 addresses is too-large")
        } else if name == "17 operations" {
            #expect(error?.reason == .tooLarge || error?.reason == .malformed)
        } else {
            #expect(error?.reason == .malformed, "\(name): \(error.map(String.init(describing:)) ?? "-")")
        }
        if name == "key 7 in a version-1 batch" { #expect(error?.message.contains("unknown key 7") == true) }
    }

    @Test("the hand-written control batches of the strict-decoding cases decode: only the named fault is refused")
    func strictDecodingControls() throws {
        #expect(try Batch(decoding: F.rawBatch(version: 1, transfers: [10], operations: nil)).version == 1)
        #expect(try Batch(decoding: F.rawBatch(version: 2, transfers: [10], operations: [F.rawAmountOperation(type: 1, amount: 5)])).operations == [.bond(5)])
        #expect(try Batch(decoding: F.rawBatch(version: 2, operations: [F.rawAmountOperation(type: 2, amount: 5)])).operations == [.unbond(5)])
        #expect(try Batch(decoding: F.rawBatch(version: 2, operations: [F.rawRegistration(addresses: ["10.0.0.1:7400", "node.example:1"])])).operations.count == 1)
    }

    // MARK: Encoder rules

    @Test("the encoder refuses what the decoder refuses, naming the field",
          arguments: [
            ("17 operations", RejectReason.tooLarge, "batch.operations"),
            ("a bond of 0", .malformed, "batch.operations[0].amount"),
            ("an unbond of 0", .malformed, "batch.operations[1].amount"),
            ("a registration with 0 addresses", .malformed, "batch.operations[0].addresses"),
            ("a registration with 5 addresses", .tooLarge, "batch.operations[0].addresses"),
            ("an address of 65 bytes", .malformed, "batch.operations[0].addresses[0]"),
            ("an address without a port", .malformed, "batch.operations[0].addresses[2]"),
            ("no transfers and no operations", .malformed, "batch.transfers"),
          ])
    func encoderRules(name: String, reason: RejectReason, field: String) throws {
        var registration = F.registration
        var operations: [Operation] = [.register(registration)]
        switch name {
        case "17 operations": operations = Array(repeating: .bond(1), count: 17)
        case "a bond of 0": operations = [.bond(0)]
        case "an unbond of 0": operations = [.bond(1), .unbond(0)]
        case "a registration with 0 addresses": registration.addresses = []
        case "a registration with 5 addresses": registration.addresses = (1...5).map { "h:\($0)" }
        case "an address of 65 bytes": registration.addresses = [String(repeating: "a", count: 59) + ":65535"]
        case "an address without a port": registration.addresses = ["h:1", "h:2", "node.example"]
        case "no transfers and no operations": operations = []
        default: Issue.record("unknown case \(name)")
        }
        if case .register = operations.first { operations = [.register(registration)] }
        let batch = F.batch(operations: operations)
        let error = #expect(throws: ProtocolError.self) { try batch.encoded() }
        #expect(error?.reason == reason)
        #expect(error?.field == field)
        #expect(throws: ProtocolError.self) { try SignedBatch.sign(batch, with: F.device) }
    }

    // MARK: The node's signature

    @Test("a registration whose node signature does not hold fails verification with bad-signature at the operation",
          arguments: ["another node key signed", "signed for another account", "signed for another network", "addresses changed after signing"])
    func wrongNodeSignature(fault: String) throws {
        var registration: Registration
        switch fault {
        case "another node key signed":
            let other = SigningKey()
            registration = Registration.sign(network: F.network, account: F.device.publicKey, addresses: F.addresses, nodeKey: other)
            registration.node = F.nodeKey.publicKey
        case "signed for another account":
            registration = Registration.sign(network: F.network, account: F.recipient, addresses: F.addresses, nodeKey: F.nodeKey)
        case "signed for another network":
            registration = Registration.sign(network: try NetworkID("kognita-other"), account: F.device.publicKey, addresses: F.addresses, nodeKey: F.nodeKey)
        default:
            registration = F.registration
            registration.addresses = ["10.0.0.2:7400"]
        }
        // The bond first, so the failing registration is operation 1.
        let batch = F.batch(operations: [.bond(10), .register(registration)])
        let envelope = try SignedBatch.sign(batch, with: F.device).envelope // the account key's signature is fine
        let error = #expect(throws: ProtocolError.self) { try SignedBatch.verify(envelope, expectedNetwork: F.network) }
        #expect(error?.reason == .badSignature)
        #expect(error?.field == "batch.operations[1].signature")
        // The same envelope with a correct node signature verifies.
        let good = try SignedBatch.sign(F.batch(operations: [.bond(10), .register(F.registration)]), with: F.device)
        #expect(try SignedBatch.verify(good.envelope, expectedNetwork: F.network).batch.operations.count == 2)
    }

    @Test("the node signature is checked against the batch's signer: another device carrying a registration made for this one fails")
    func registrationReplayedByAnotherAccount() throws {
        let thief = SigningKey()
        let envelope = try SignedBatch.sign(F.batch(operations: [.register(F.registration)]), with: thief).envelope
        let error = #expect(throws: ProtocolError.self) { try SignedBatch.verify(envelope) }
        #expect(error?.reason == .badSignature)
        #expect(error?.field == "batch.operations[0].signature")
    }
}

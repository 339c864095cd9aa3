import KognitaCore

/// A device topic of the contract: `kognita/<net>/<dev>/<kind>`.
public struct DeviceTopic: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case batch, ack, sync, state
    }

    public let network: NetworkID
    public let device: AccountID
    public let kind: Kind

    public init(network: NetworkID, device: AccountID, kind: Kind) {
        self.network = network
        self.device = device
        self.kind = kind
    }

    /// Parses a topic; nil when it is not a device topic of `network` (the
    /// device id must be 64 lowercase hex characters, as the contract writes it).
    public init?(_ topic: String, network: NetworkID) {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "kognita", parts[1] == network.rawValue,
              parts[2].utf8.count == 64, parts[2].allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) }),
              let device = try? AccountID(hex: String(parts[2])), let kind = Kind(rawValue: String(parts[3])) else { return nil }
        self.init(network: network, device: device, kind: kind)
    }

    /// The topic string.
    public var topic: String { "kognita/\(network.rawValue)/\(device.hex)/\(kind.rawValue)" }

    /// The same device's topic of another kind.
    public func with(_ kind: Kind) -> DeviceTopic { DeviceTopic(network: network, device: device, kind: kind) }

    /// The shared-subscription filters a bridge of `group` subscribes to.
    public static func bridgeFilters(network: NetworkID, group: String) -> [String] {
        ["$share/\(group)/kognita/\(network.rawValue)/+/batch", "$share/\(group)/kognita/\(network.rawValue)/+/sync"]
    }
}

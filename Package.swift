// swift-tools-version: 6.1
// Kognita: a payment network for machines. One package: protocol core, agent,
// bridge, node and operator CLI. See docs/ and ../shared/DESIGN.md for the layout.
import PackageDescription

let package = Package(
    name: "kognita",
    products: [
        .library(name: "KognitaCore", targets: ["KognitaCore"]),
        .library(name: "KognitaMQTT", targets: ["KognitaMQTT"]),
        .library(name: "KognitaLedger", targets: ["KognitaLedger"]),
        // For the fuzz harnesses (Fuzz/), which decode peer frames.
        .library(name: "KognitaNode", targets: ["KognitaNode"]),
        .executable(name: "kognita", targets: ["kognita"]),
        .executable(name: "kognita-agent", targets: ["kognita-agent"]),
        .executable(name: "kognita-node", targets: ["kognita-node"]),
        .executable(name: "kognita-bridge", targets: ["kognita-bridge"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        // Without its default traits: no swift-configuration, no full Foundation.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0", traits: []),
    ],
    targets: [
        // System libraries. Only the Swift wrapper modules import these.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),

        // The protocol as values: CBOR, COSE, Ed25519/BLAKE2b over libsodium,
        // batches, acks, amounts. No networking.
        .target(
            name: "KognitaCore",
            dependencies: ["CSodium"]
        ),

        // The ledger authority: committees, votes, certificates, account
        // state and the voting and applying rules. Pure: no I/O, no clocks.
        .target(
            name: "KognitaLedger",
            dependencies: ["KognitaCore"]
        ),

        // The full node's parts: the SQLite ledger store (GRDB), and later the
        // peer network, the client API and the services that tie them up.
        .target(
            name: "KognitaNode",
            dependencies: [
                "KognitaCore",
                "KognitaLedger",
                "KognitaSystem",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),

        // The bridge's parts: MQTT in, nodes out, acks back.
        .target(
            name: "KognitaBridge",
            dependencies: [
                "KognitaCore",
                "KognitaLedger",
                "KognitaMQTT",
                "KognitaNode",
                "KognitaSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),

        // The bridge executable.
        .executableTarget(
            name: "kognita-bridge",
            dependencies: [
                "KognitaBridge",
                "KognitaNode",
                "KognitaSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The full node executable.
        .executableTarget(
            name: "kognita-node",
            dependencies: [
                "KognitaNode",
                "KognitaSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The few POSIX file operations the tools need: atomic writes, private
        // key files, size-limited reads.
        .target(
            name: "KognitaSystem",
            dependencies: ["KognitaCore"]
        ),

        // MQTT over libmosquitto, shared by the agent and the bridge.
        .target(
            name: "KognitaMQTT",
            dependencies: ["CMosquitto", "KognitaCore", "KognitaSystem"]
        ),

        // The edge agent's parts: spool, sensors, rules, batcher, uplink.
        .target(
            name: "KognitaAgent",
            dependencies: ["KognitaCore", "KognitaSystem", "KognitaMQTT"]
        ),

        // The edge agent executable.
        .executableTarget(
            name: "kognita-agent",
            dependencies: ["KognitaAgent", "KognitaSystem"]
        ),

        // A whole network on this machine: its files, processes, simulated
        // device fleet, live view, chaos, end-of-run checks and report. Used by
        // `kognita devnet` and by the tests, so networks start one way.
        .target(
            name: "KognitaDevnet",
            dependencies: [
                "KognitaCore",
                "KognitaSystem",
                "KognitaNode",
                "KognitaAgent",
                "KognitaMQTT",
            ]
        ),

        // The operator CLI.
        .executableTarget(
            name: "kognita",
            dependencies: [
                "KognitaCore",
                "KognitaSystem",
                "KognitaNode",
                "KognitaAgent",
                "KognitaDevnet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Shared test helpers: temporary directories, child processes, repo paths.
        .target(
            name: "KognitaTesting",
            dependencies: ["KognitaCore", "KognitaLedger", "KognitaNode", "KognitaSystem", "KognitaDevnet"],
            path: "Tests/KognitaTesting"
        ),

        .testTarget(
            name: "KognitaCoreTests",
            dependencies: ["KognitaCore", "KognitaSystem", "KognitaTesting"]
        ),
        .testTarget(
            name: "KognitaLedgerTests",
            dependencies: ["KognitaLedger", "KognitaCore", "KognitaSystem", "KognitaTesting"]
        ),
        .testTarget(
            name: "KognitaNodeTests",
            dependencies: ["KognitaNode", "KognitaLedger", "KognitaCore", "KognitaSystem", "KognitaTesting"]
        ),
        .testTarget(
            name: "KognitaMQTTTests",
            dependencies: ["KognitaMQTT", "KognitaTesting"]
        ),
        .testTarget(
            name: "KognitaAgentTests",
            dependencies: ["KognitaAgent", "KognitaCore", "KognitaMQTT", "KognitaTesting"]
        ),
        .testTarget(
            name: "KognitaBridgeTests",
            dependencies: ["KognitaBridge", "KognitaCore", "KognitaMQTT", "KognitaTesting"]
        ),
        .testTarget(
            name: "KognitaDevnetTests",
            dependencies: ["KognitaDevnet", "KognitaCore", "KognitaTesting"]
        ),
        .testTarget(
            name: "KognitaCLITests",
            dependencies: ["KognitaCore", "KognitaTesting"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

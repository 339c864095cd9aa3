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
        .executable(name: "kognita", targets: ["kognita"]),
        .executable(name: "kognita-agent", targets: ["kognita-agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
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
            dependencies: ["CMosquitto"]
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

        // The operator CLI.
        .executableTarget(
            name: "kognita",
            dependencies: [
                "KognitaCore",
                "KognitaSystem",
                "KognitaNode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Shared test helpers: temporary directories, child processes, repo paths.
        .target(
            name: "KognitaTesting",
            dependencies: ["KognitaCore", "KognitaLedger"],
            path: "Tests/KognitaTesting"
        ),

        .testTarget(
            name: "KognitaCoreTests",
            dependencies: ["KognitaCore", "KognitaSystem", "KognitaTesting"]
        ),
        .testTarget(
            name: "KognitaLedgerTests",
            dependencies: ["KognitaLedger", "KognitaCore", "KognitaTesting"]
        ),
        .testTarget(
            name: "KognitaNodeTests",
            dependencies: ["KognitaNode", "KognitaLedger", "KognitaCore", "KognitaTesting"]
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
            name: "KognitaCLITests",
            dependencies: ["KognitaCore", "KognitaTesting"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

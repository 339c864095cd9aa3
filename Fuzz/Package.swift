// swift-tools-version: 6.1
// libFuzzer harnesses for KognitaCore, KognitaLedger and KognitaNode's decoders, built only by `make fuzz` (Scripts/fuzz.sh)
// with -sanitize=fuzzer; kept out of the main package because a libFuzzer
// executable has no main() of its own and would not link in a normal build.
import PackageDescription

let package = Package(
    name: "kognita-fuzz",
    dependencies: [.package(name: "kognita", path: "..")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "FuzzBatchVerifier",
            dependencies: ["CFuzzerDriver", .product(name: "KognitaCore", package: "kognita")]
        ),
        .executableTarget(
            name: "FuzzEpochMessages",
            dependencies: ["CFuzzerDriver", .product(name: "KognitaCore", package: "kognita"), .product(name: "KognitaLedger", package: "kognita")]
        ),
        .executableTarget(
            name: "FuzzPeerMessages",
            dependencies: ["CFuzzerDriver", .product(name: "KognitaNode", package: "kognita")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

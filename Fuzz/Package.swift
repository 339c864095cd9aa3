// swift-tools-version: 6.1
// libFuzzer harnesses for KognitaCore, built only by `make fuzz` (Scripts/fuzz.sh)
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
    ],
    swiftLanguageModes: [.v6]
)

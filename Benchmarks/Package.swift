// swift-tools-version: 6.1
// Benchmarks for Kognita (package-benchmark). A separate package so that the
// benchmark framework is never built by `make test`. Run with `make bench`.
import PackageDescription

let package = Package(
    name: "kognita-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "kognita", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        // libsodium called directly, for the "bare verify" baseline.
        .systemLibrary(name: "CSodiumBaseline", path: "Sources/CSodiumBaseline", pkgConfig: "libsodium"),
        .executableTarget(
            name: "CoreBenchmarks",
            dependencies: [
                "CSodiumBaseline",
                .product(name: "KognitaCore", package: "kognita"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/CoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "LedgerBenchmarks",
            dependencies: [
                .product(name: "KognitaCore", package: "kognita"),
                .product(name: "KognitaLedger", package: "kognita"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/LedgerBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version: 6.1
import PackageDescription

// The micro-benchmarks, a package of their own so that building and testing mynapoint never compiles the
// benchmark framework. Run with `swift package benchmark` in this folder (see README.md).
let package = Package(
    name: "benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "mynapoint", path: ".."),
        // The malloc interposer gives the malloc counts; the runtime interposer trait stays off (not mirrored here).
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "MynapointBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Settlement", package: "mynapoint"),
                .product(name: "Ledger", package: "mynapoint"),
                .product(name: "Registry", package: "mynapoint"),
                .product(name: "Rules", package: "mynapoint"),
                .product(name: "Zstd", package: "mynapoint"),
                .product(name: "Generator", package: "mynapoint"),
            ],
            path: "Benchmarks/MynapointBenchmarks",
            swiftSettings: [
                .swiftLanguageMode(.v6),
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("InternalImportsByDefault"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)

// swift-tools-version: 6.1
import PackageDescription

/// One set of compiler settings for every Swift target: Swift 6 language mode, strict hygiene.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
    // Fault injection (the crash points of the recovery tests) exists in debug builds only, never in a release.
    .define("MYNAPOINT_FAULT_INJECTION", .when(configuration: .debug)),
]

let package = Package(
    name: "mynapoint",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mynapoint", targets: ["mynapoint"]),
        .library(name: "Settlement", targets: ["Settlement"]),
        .library(name: "Rules", targets: ["Rules"]),
        .library(name: "Zstd", targets: ["Zstd"]),
        .library(name: "Generator", targets: ["Generator"]),
        .library(name: "Ledger", targets: ["Ledger"]),
        .library(name: "Registry", targets: ["Registry"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // C libraries, found through pkg-config; Debian packages named for a fresh machine.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CPCSCLite", pkgConfig: "libpcsclite", providers: [.apt(["libpcsclite-dev"])]),
        // Named C functions for the C macros Swift cannot import.
        .target(name: "CShims", dependencies: ["COpenSSL", "CPCSCLite"]),

        // Wrappers: typed Swift over C, one error type each, no C types in their public API.
        .target(name: "Postgres", dependencies: ["CLibPQ"], swiftSettings: swiftSettings),
        .target(
            name: "Zstd", dependencies: ["CZstd", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: swiftSettings),
        .target(name: "Crypto", dependencies: ["COpenSSL", "CShims"], swiftSettings: swiftSettings),
        .target(name: "SmartCard", dependencies: ["CPCSCLite", "CShims"], swiftSettings: swiftSettings),

        // Domain.
        .target(name: "Rules", swiftSettings: swiftSettings),
        // The languages mynapoint speaks to people in, and their message catalogues.
        .target(name: "Localization", swiftSettings: swiftSettings),
        // The drop's file formats: entry names as bytes, provider file names, control and result control files.
        .target(name: "DropFormat", dependencies: ["Localization", "Rules", "Crypto"], swiftSettings: swiftSettings),
        .target(
            name: "Ledger",
            dependencies: ["Postgres", "Rules", "Crypto", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Settlement",
            dependencies: [
                "DropFormat", "Ledger", "Localization", "Rules", "Zstd", "Crypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        // Registry input formats: the registry folder's CSV files and the reissue/renewal feed.
        .target(name: "Registry", dependencies: ["Ledger", "Rules", "Zstd"], swiftSettings: swiftSettings),
        .target(
            name: "Registration",
            dependencies: ["Ledger", "Localization", "Rules", "SmartCard", "Crypto"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Reports", dependencies: ["Ledger", "Localization", "Rules", "Postgres", "Crypto", "Zstd"],
            swiftSettings: swiftSettings),
        .target(
            name: "Generator", dependencies: ["DropFormat", "Rules", "Zstd", "Crypto"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "mynapoint",
            dependencies: [
                "DropFormat", "Localization", "Settlement", "Registration", "Registry", "Reports", "Ledger",
                "Generator", "Postgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Test support: temporary databases, the virtual JPKI card, fixtures.
        .target(
            name: "TestSupport",
            dependencies: ["DropFormat", "Postgres", "Crypto", "SmartCard", "Zstd"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RulesTests",
            dependencies: ["Rules", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: swiftSettings
        ),
        // The settlement's pure middle (duplicates, order, points) on in-memory values: no database, no files.
        .testTarget(
            name: "SettlementCoreTests",
            dependencies: [
                "DropFormat", "Localization", "Settlement", "Rules",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DropFormatTests", dependencies: ["DropFormat", "Localization"], swiftSettings: swiftSettings),
        .testTarget(
            name: "LocalizationTests", dependencies: ["Localization", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ZstdTests", dependencies: ["Zstd", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "SmartCardTests", dependencies: ["SmartCard", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "LedgerTests",
            dependencies: ["Ledger", "Postgres", "Registry", "Rules", "Settlement", "Zstd", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SettlementTests",
            dependencies: [
                "DropFormat", "Localization", "Settlement", "Ledger", "Registry", "Rules", "Zstd", "Generator",
                "TestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ReportsTests",
            dependencies: [
                "Reports", "Localization", "Ledger", "Registry", "Settlement", "Generator", "Rules", "Postgres",
                "TestSupport", "Zstd",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RegistryTests",
            dependencies: ["Registry", "Ledger", "Rules", "Zstd", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RegistrationTests",
            dependencies: [
                "Registration", "Ledger", "Localization", "SmartCard", "Crypto", "Rules", "Postgres", "TestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["TestSupport", "Zstd", "Postgres", "Crypto"],
            swiftSettings: swiftSettings
        ),
    ]
)

// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// What every HTTP server library here (FakeUpstreamKit, ChaosKit) builds on.
let serverLibraryDependencies: [Target.Dependency] = [
    "JSONWriting", "Seeded", "SystemSupport",
    .product(name: "Prometheus", package: "swift-prometheus"),
    .product(name: "Hummingbird", package: "hummingbird"),
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "Logging", package: "swift-log"),
    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
]

/// What every thin @main over such a library needs.
let commandDependencies: [Target.Dependency] = [
    "SystemSupport",
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
    .product(name: "Logging", package: "swift-log"),
    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
    .product(name: "UnixSignals", package: "swift-service-lifecycle"),
]

let package = Package(
    name: "RickMortyLab",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rickmorty-api", targets: ["App"]),
        .executable(name: "fake-upstream", targets: ["FakeUpstream"]),
        .executable(name: "chaos", targets: ["Chaos"]),
        .executable(name: "lab", targets: ["Lab"]),
        .executable(name: "bench-floor", targets: ["BenchFloor"]),
    ],
    dependencies: [
        .package(
            url: "https://github.com/hummingbird-project/hummingbird.git",
            from: "2.28.1",
            traits: ["FullFoundation"]
        ),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // C libraries: module maps only. Nothing but Native imports them.
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(
            name: "Native",
            dependencies: ["CLibPQ", "CSQLite", "CCurl"],
            swiftSettings: swiftSettings
        ),
        .target(name: "JSONWriting", swiftSettings: swiftSettings),
        .target(name: "Seeded", swiftSettings: swiftSettings),
        .target(
            name: "SystemSupport",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RickMortyAPI",
            dependencies: [
                "Native", "JSONWriting", "SystemSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "App",
            dependencies: ["RickMortyAPI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FakeUpstreamKit",
            dependencies: serverLibraryDependencies,
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FakeUpstream",
            dependencies: ["FakeUpstreamKit"] + commandDependencies,
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ChaosKit",
            dependencies: serverLibraryDependencies,
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "Chaos",
            dependencies: ["ChaosKit", "Native", "JSONWriting"] + commandDependencies,
            swiftSettings: swiftSettings
        ),
        // The scenario runner behind `lab scenario`: files, load, timeline, expectations, reports.
        .target(
            name: "ScenarioKit",
            dependencies: [
                "Native", "SystemSupport", "Seeded",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // scripts/bench-app.sh's measure of Hummingbird alone: the same bytes, no App around them.
        .executableTarget(
            name: "BenchFloor",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "Lab",
            dependencies: [
                "Native", "SystemSupport", "ScenarioKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "UnitTests",
            dependencies: [
                "RickMortyAPI", "Native", "FakeUpstreamKit", "ChaosKit", "JSONWriting", "Seeded", "ScenarioKit",
                "SystemSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/Unit",
            swiftSettings: swiftSettings
        ),
        // Helpers the integration and E2E suites share: HTTP, polling, processes, ports.
        .target(
            name: "TestSupport",
            dependencies: [
                "SystemSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/Support",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "RickMortyAPI", "Native", "FakeUpstreamKit", "ChaosKit", "TestSupport", "SystemSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/Integration",
            swiftSettings: swiftSettings
        ),
        // Black-box over HTTP against a lab (started here, or named by APP_URL, CHAOS_URL,
        // FAKE_UPSTREAM_URL): no App, FakeUpstream or Chaos code is linked in.
        .testTarget(
            name: "E2ETests",
            dependencies: [
                "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/E2E",
            swiftSettings: swiftSettings
        ),
    ]
)

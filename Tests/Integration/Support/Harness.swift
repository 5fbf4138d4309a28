import AsyncHTTPClient
import FakeUpstreamKit
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization
import TestSupport

@testable import RickMortyAPI

/// Starts services in-process, hands their bound ports to the test, and shuts them down
/// gracefully when the test body returns or throws.
enum Harness {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    static var http: HTTPClient { TestHTTP.client }

    /// Runs `service` until `body` finishes; `body` receives the port the service reported.
    static func run<T>(
        services makeService: (@escaping @Sendable (Int) async -> Void) -> [any Service],
        body: (Int) async throws -> T
    ) async throws -> T {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let services = makeService { port in continuation.yield(port) }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [], logger: Self.quiet)
        )
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw HarnessError("service stopped before listening") }
            do {
                let result = try await body(port)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }

    /// A FakeUpstream on a free port; the body gets its API base URL and the server (for behaviours).
    static func withFakeUpstream<T>(
        characters: Int = 826,
        seed: UInt64 = 1,
        _ body: (String, FakeUpstreamServer) async throws -> T
    ) async throws -> T {
        var configuration = FakeUpstreamConfiguration()
        configuration.port = 0
        configuration.seed = seed
        let server = try FakeUpstreamServer(
            dataset: .generate(count: characters, seed: seed),
            configuration: configuration
        )
        return try await Self.run(
            services: { [server.service(logger: Self.quiet, onServerRunning: $0)] },
            body: { port in try await body("http://127.0.0.1:\(port)/api", server) }
        )
    }

    /// Test-friendly App settings: port 0, fast probes, short timeouts.
    static func appConfig(database: String, upstream: String, _ overrides: [String: String] = [:]) throws -> AppConfig {
        var environment = [
            "DATABASE_URL": database, "UPSTREAM_BASE_URL": upstream, "HOST": "127.0.0.1", "PORT": "0",
            "DB_PROBE_INTERVAL": "0.2", "UPSTREAM_PROBE_INTERVAL": "0.5", "DB_CONNECT_TIMEOUT": "2",
            "DB_QUERY_TIMEOUT": "5",
            "REQUEST_TIMEOUT": "5", "SHUTDOWN_DRAIN_DELAY": "0", "LOG_LEVEL": "critical",
        ]
        environment.merge(overrides) { $1 }
        return try AppConfig.load(environment: environment)
    }

    /// The App in-process with live dependencies; the body gets its base URL and handle.
    static func withApp<T>(_ config: AppConfig, _ body: (RunningApp) async throws -> T) async throws -> T {
        let threadPool = NIOThreadPool(numberOfThreads: config.dbPoolSize + 2)
        threadPool.start()
        defer { threadPool.shutdownGracefully { _ in } }
        let dependencies = AppDependencies.live(config: config, threadPool: threadPool, logger: Self.quiet)
        return try await Self.run(
            services: { buildApplication(config: config, dependencies: dependencies, onServerRunning: $0).services },
            body: { port in
                try await body(RunningApp(baseURL: "http://127.0.0.1:\(port)", metrics: dependencies.metrics))
            }
        )
    }
}

extension Harness {
    /// The common setup of the PostgreSQL outage tests: a fresh cluster and database, a
    /// FakeUpstream, and an App that has finished its first ingest.
    static func withIngestedPostgresApp(
        characters: Int = 100,
        _ overrides: [String: String] = [:],
        _ body: (PostgresFixture) async throws -> Void
    ) async throws {
        try await withPostgres { server in
            let database = try server.createDatabase()
            try await Self.withFakeUpstream(characters: characters) { upstream, _ in
                try await Self.withApp(try Self.appConfig(database: database, upstream: upstream, overrides)) { app in
                    let ingested = await eventually { app.metric(#"ingest_runs_total{result="success"}"#) >= 1 }
                    guard ingested else { throw HarnessError("the App never finished its first ingest") }
                    try await body(PostgresFixture(app: app, server: server, database: database))
                }
            }
        }
    }
}

/// What ``Harness/withIngestedPostgresApp(characters:_:_:)`` hands a test.
struct PostgresFixture {
    let app: RunningApp
    let server: PostgresServer
    /// The URL of the App's database on `server`.
    let database: String
}

/// A running App as a test sees it.
struct RunningApp: Sendable {
    let baseURL: String
    let metrics: AppMetrics

    /// The current value of a metric sample, e.g. `ingest_runs_total{result="success"}`; 0 when absent.
    func metric(_ sample: String) -> Double {
        let text = String(decoding: self.metrics.exposition(), as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1)) ?? .nan
        }
        return 0
    }
}

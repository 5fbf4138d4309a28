import AsyncHTTPClient
import FakeUpstreamKit
import Foundation
import NIOHTTP1
import Native
import TestSupport
import Testing

@testable import RickMortyAPI

extension Integration {
    @Suite("PostgreSQL outages: 503 with Retry-After, cached pages, health, recovery")
    struct DatabaseOutageTests {
        @Test(
            "a stopped database gives 503 + Retry-After (never 500), cached pages stay 200, health goes down and recovers"
        )
        func outage() async throws {
            try await Harness.withIngestedPostgresApp(characters: 200, ["RETRY_AFTER_SECONDS": "7"]) { fixture in
                let (app, server) = (fixture.app, fixture.server)
                #expect(
                    await eventually {
                        (try? await fetch("\(app.baseURL)/healthcheck").json["status"] as? String) == "ok"
                    }
                )
                let cached = try await fetch("\(app.baseURL)/characters?page=1")
                #expect(cached.status == 200)

                try server.stopServer(immediate: true)

                let stillCached = try await fetch("\(app.baseURL)/characters?page=1")
                #expect(stillCached.status == 200)
                #expect(stillCached.body == cached.body)
                for query in ["page=2", "page=3&page_size=7", "sort=name", "order=desc"] {
                    let result = try await fetch("\(app.baseURL)/characters?\(query)")
                    #expect(result.status == 503, "\(query)")
                    #expect(result.headers.first(name: "Retry-After") == "7")
                    #expect(result.headers.first(name: "Content-Type") == "application/problem+json")
                    #expect(!result.body.contains("postgres://") && !result.body.contains("SELECT"))
                }
                #expect(await eventually { (try? await fetch("\(app.baseURL)/readyz").status) == 503 })
                let ready = try await fetch("\(app.baseURL)/ready")
                #expect(ready.status == 503 && ready.headers.first(name: "Retry-After") == "7")
                let health = try await fetch("\(app.baseURL)/healthcheck")
                #expect(health.status == 503)
                #expect(health.json["status"] as? String == "down")
                #expect(health.json["db_ok"] as? Bool == false)
                #expect(app.metric("db_ok") == 0)
                #expect(
                    try await fetch("\(app.baseURL)/healthz").status == 200,
                    "liveness never touches the database"
                )

                try server.startServer()

                #expect(await eventually { (try? await fetch("\(app.baseURL)/readyz").status) == 200 })
                #expect(try await fetch("\(app.baseURL)/characters?page=2").status == 200)
                #expect(try await fetch("\(app.baseURL)/healthcheck").json["status"] as? String == "ok")
                #expect(app.metric("db_ok") == 1)
                #expect(app.metric(#"http_requests_total{path="/characters",method="GET",status="500"}"#) == 0)
            }
        }

        @Test("a connection killed mid-request gives 503 + Retry-After, and the next request after recovery gives 200")
        func killedConnection() async throws {
            try await Harness.withIngestedPostgresApp(characters: 200, ["PAGE_CACHE_MAX": "0"]) { fixture in
                let (app, server, database) = (fixture.app, fixture.server, fixture.database)
                let blocker = try PostgresConnection(conninfo: database, connectTimeout: 5, queryTimeout: 30)
                try blocker.execute("BEGIN; LOCK TABLE characters IN ACCESS EXCLUSIVE MODE")
                async let blocked = fetch("\(app.baseURL)/characters?page=2")
                let waiting = await eventually { server.appIsWaitingOnLock(in: database) }
                #expect(waiting, "the request never blocked on the lock")
                _ = try server.query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rickmorty-api' AND wait_event_type = 'Lock'",
                    url: database
                )
                let result = try await blocked
                #expect(result.status == 503)
                #expect(result.headers.first(name: "Retry-After") == "5")
                try blocker.execute("COMMIT")
                #expect(try await fetch("\(app.baseURL)/characters?page=2").status == 200)
            }
        }

        @Test("SIGTERM: readiness turns 503 at once, a slow in-flight request finishes, the process exits 0")
        func gracefulShutdown() async throws {
            try await withPostgres { server in
                let database = try server.createDatabase()
                try await Harness.withFakeUpstream(characters: 100) { upstream, _ in
                    let app = try AppProcess(environment: [
                        "DATABASE_URL": database, "UPSTREAM_BASE_URL": upstream, "PAGE_CACHE_MAX": "0",
                        "DB_PROBE_INTERVAL": "0.2",
                        "SHUTDOWN_DRAIN_DELAY": "3", "SHUTDOWN_GRACE": "20", "DB_QUERY_TIMEOUT": "30",
                        "LOG_LEVEL": "info",
                    ])
                    defer { app.cleanUp() }
                    #expect(
                        await eventually {
                            (try? await fetch("\(app.baseURL)/healthcheck").json["character_count"] as? Int) ?? 0 > 0
                        }
                    )

                    let blocker = try PostgresConnection(conninfo: database, connectTimeout: 5, queryTimeout: 30)
                    try blocker.execute("BEGIN; LOCK TABLE characters IN ACCESS EXCLUSIVE MODE")
                    async let slow = fetch("\(app.baseURL)/characters?page=2")
                    #expect(
                        await eventually { server.appIsWaitingOnLock(in: database) }
                    )
                    // The server's view of the waiting connection's client end, to find in the log.
                    let waiter = try server.query(
                        "SELECT client_port FROM pg_stat_activity WHERE application_name = 'rickmorty-api' AND wait_event_type = 'Lock'",
                        url: database
                    ).first?.first?.int

                    app.signal(SIGTERM)
                    #expect(
                        await eventually(timeout: .seconds(2)) {
                            (try? await fetch("\(app.baseURL)/readyz").status) == 503
                        }
                    )
                    try blocker.execute("COMMIT")
                    let finished = try await slow
                    #expect(finished.status == 200)
                    #expect(finished.json["page"] as? Int == 2)
                    let id = try #require(finished.headers.first(name: "X-Request-ID"))
                    let access = app.log.split(separator: "\n").first {
                        $0.contains(#""request_id":"\#(id)""#) && $0.contains(#""msg":"request""#)
                    }
                    #expect(
                        access?.contains(#""db.connection":"127.0.0.1:\#(waiter ?? -1)""#) == true,
                        "the access line names the connection the request waited on: \(access ?? "none")"
                    )
                    let code = await app.waitForExit(timeout: .seconds(30))
                    #expect(code == 0, "exit code \(String(describing: code)); log:\n\(app.log)")
                }
            }
        }
    }
}

extension Integration {
    @Suite("Every kind of database unavailability is a 503 on both backends")
    struct UnavailabilityKindsTests {
        /// Blocks the App's reads on PostgreSQL with a table lock held by another connection.
        private func withLockedTable(_ database: String, _ body: () async throws -> Void) async throws {
            let blocker = try PostgresConnection(conninfo: database, connectTimeout: 5, queryTimeout: 30)
            try blocker.execute("BEGIN; LOCK TABLE characters IN ACCESS EXCLUSIVE MODE")
            try await body()
            try blocker.execute("COMMIT")
        }

        @Test("a query that exceeds DB_QUERY_TIMEOUT is a 503 with Retry-After, and the pool recovers")
        func queryTimeout() async throws {
            try await Harness.withIngestedPostgresApp(
                characters: 100,
                ["PAGE_CACHE_MAX": "0", "DB_QUERY_TIMEOUT": "0.5"]
            ) { fixture in
                let (app, database) = (fixture.app, fixture.database)
                try await self.withLockedTable(database) {
                    let result = try await fetch("\(app.baseURL)/characters?page=2")
                    #expect(result.status == 503)
                    #expect(result.headers.first(name: "Retry-After") == "5")
                }
                #expect(try await fetch("\(app.baseURL)/characters?page=2").status == 200)
                #expect(app.metric(#"db_errors_total{kind="timeout"}"#) >= 1)
            }
        }

        @Test("an exhausted pool is a 503 with Retry-After after DB_CONNECT_TIMEOUT, not a hang")
        func poolExhausted() async throws {
            try await Harness.withIngestedPostgresApp(
                characters: 100,
                [
                    "PAGE_CACHE_MAX": "0", "DB_POOL_SIZE": "1", "DB_CONNECT_TIMEOUT": "0.5",
                    "DB_QUERY_TIMEOUT": "20",
                ]
            ) { fixture in
                let (app, server, database) = (fixture.app, fixture.server, fixture.database)
                try await self.withLockedTable(database) {
                    // The first request takes the only connection and waits on the lock.
                    async let holder = fetch("\(app.baseURL)/characters?page=3")
                    let blocked = await eventually { server.appIsWaitingOnLock(in: database) }
                    #expect(blocked)
                    let result = try await fetch("\(app.baseURL)/characters?page=2")
                    #expect(result.status == 503)
                    #expect(result.headers.first(name: "Retry-After") == "5")
                    #expect(app.metric(#"db_errors_total{kind="pool_exhausted"}"#) >= 1)
                    _ = try? await holder
                }
                #expect(try await fetch("\(app.baseURL)/characters?page=2").status == 200)
            }
        }

        @Test(
            "an SQLite file that cannot be opened: 503 with Retry-After, not ready, health down; recovers without restart"
        )
        func sqliteUnavailable() async throws {
            let folder = NSTemporaryDirectory() + "rm-sqlite-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: folder) }
            // The database's folder is a plain file, so opening fails (ENOTDIR) whoever runs it.
            _ = FileManager.default.createFile(atPath: folder, contents: Data("not a folder".utf8))
            try await Harness.withFakeUpstream(characters: 100) { upstream, _ in
                let config = try Harness.appConfig(database: "sqlite:\(folder)/rm.sqlite", upstream: upstream)
                try await Harness.withApp(config) { app in
                    let result = try await fetch("\(app.baseURL)/characters")
                    #expect(result.status == 503)
                    #expect(result.headers.first(name: "Retry-After") == "5")
                    #expect(try await fetch("\(app.baseURL)/readyz").status == 503)
                    let health = try await fetch("\(app.baseURL)/healthcheck")
                    #expect(health.status == 503 && health.json["status"] as? String == "down")

                    try FileManager.default.removeItem(atPath: folder)
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)

                    #expect(await eventually { (try? await fetch("\(app.baseURL)/readyz").status) == 200 })
                    #expect(await eventually { app.metric(#"ingest_runs_total{result="success"}"#) >= 1 })
                    #expect(try await fetch("\(app.baseURL)/characters").status == 200)
                    #expect(app.metric(#"http_requests_total{path="/characters",method="GET",status="500"}"#) == 0)
                }
            }
        }
    }
}

import FakeUpstreamKit
import Foundation
import Native
import TestSupport
import Testing

@testable import RickMortyAPI

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite("The upstream walk holds no connection and no transaction")
    struct RefreshLeaseTests {
        /// Page requests FakeUpstream has answered so far.
        private func pagesFetched(_ fake: FakeUpstreamServer) -> [Int] {
            fake.store.requests(path: "/api/character").compactMap { $0.query["page"].flatMap(Int.init) }
        }

        @Test("with one pooled connection and 0.5 s per upstream page, every read during a refresh is a 200")
        func readsDuringSlowRefresh() async throws {
            try await withPostgres { server in
                let database = try server.createDatabase()
                try await Harness.withFakeUpstream(characters: 100) { upstream, fake in
                    try fake.store.add(
                        Behavior(match: .init(path: "/api/character"), action: .init(delayMs: 500))
                    )
                    let config = try Harness.appConfig(
                        database: database,
                        upstream: upstream,
                        ["DB_POOL_SIZE": "1", "PAGE_CACHE_MAX": "0", "DB_CONNECT_TIMEOUT": "1"]
                    )
                    try await Harness.withApp(config) { app in
                        #expect(await eventually { !self.pagesFetched(fake).isEmpty }, "the walk never started")
                        var statuses: [Int] = []
                        var idleInTransaction = 0
                        while app.metric(#"ingest_runs_total{result="success"}"#) < 1 {
                            statuses.append(try await fetch("\(app.baseURL)/characters?page=1&page_size=5").status)
                            let rows = try server.query(
                                """
                                SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'
                                    AND now() - state_change > interval '1 second'
                                """,
                                url: database
                            )
                            idleInTransaction = max(idleInTransaction, Int(rows.first?.first?.int ?? 0))
                            #expect(statuses.count < 1000, "the refresh never finished")
                            if statuses.count >= 1000 { break }
                        }
                        #expect(self.pagesFetched(fake).count == 5)
                        #expect(statuses.count >= 3, "reads while the walk ran: \(statuses.count)")
                        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
                        #expect(idleInTransaction == 0, "a session sat idle in transaction for over 1 s")
                    }
                }
            }
        }

        @Test("a replica killed mid-walk: another takes over once its lease expires and stores every character")
        func killedReplica() async throws {
            try await withPostgres { server in
                let database = try server.createDatabase()
                try await Harness.withFakeUpstream { upstream, fake in
                    try fake.store.add(
                        Behavior(match: .init(path: "/api/character"), action: .init(delayMs: 300))
                    )
                    let first = try AppProcess(environment: [
                        "DATABASE_URL": database, "UPSTREAM_BASE_URL": upstream, "REFRESH_LEASE_TTL": "1",
                        "LOG_LEVEL": "warning",
                    ])
                    defer { first.cleanUp() }
                    #expect(await eventually { self.pagesFetched(fake).count >= 3 }, "the first replica never walked")
                    first.signal(SIGKILL)
                    _ = await first.waitForExit(timeout: .seconds(10))
                    fake.store.removeAll()
                    fake.store.clearJournal()
                    let rows = try server.query("SELECT count(*) FROM characters", url: database)
                    #expect(rows.first?.first?.int == 0, "the killed replica wrote nothing")

                    let config = try Harness.appConfig(
                        database: database,
                        upstream: upstream,
                        ["REFRESH_LEASE_TTL": "1"]
                    )
                    try await Harness.withApp(config) { second in
                        #expect(await eventually { second.metric(#"ingest_runs_total{result="success"}"#) >= 1 })
                        let page = try await fetch("\(second.baseURL)/characters?page_size=5")
                        #expect(page.json["total_count"] as? Int == fake.dataset.knownAnswer.count)
                        // A set: the killed replica's last request may still be journalled after the clear.
                        #expect(Set(self.pagesFetched(fake)) == Set(1...42), "the new holder walked every page")
                    }
                }
            }
        }
    }
}

import FakeUpstreamKit
import Foundation
import NIOCore
import NIOPosix
import Native
import TestSupport
import Testing

@testable import RickMortyAPI

extension Integration {
    @Suite("Refresh: replace the set atomically, once across replicas")
    struct RefreshTests {
        static func character(_ id: Int, name: String? = nil) -> StoredCharacter {
            StoredCharacter(
                id: id,
                name: name ?? "Name \(id)",
                status: "Alive",
                species: "Human",
                origin: "Earth (C-137)",
                image: "https://x/\(id).jpeg",
                url: nil
            )
        }

        private func withStore<T>(
            _ database: String,
            migrated: Bool = true,
            _ body: (SQLCharacterStore) async throws -> T
        ) async throws -> T {
            let threadPool = NIOThreadPool(numberOfThreads: 3)
            threadPool.start()
            defer { threadPool.shutdownGracefully { _ in } }
            let config = try AppConfig.load(environment: ["DATABASE_URL": database])
            let store = SQLCharacterStore.make(
                config: config,
                threadPool: threadPool,
                eventLoop: MultiThreadedEventLoopGroup.singleton.next()
            )
            if migrated { try await store.migrate() }
            let result = try await body(store)
            await store.close()
            return result
        }

        private func page(_ store: SQLCharacterStore, _ query: CharacterQuery) async throws -> PageSnapshot {
            try await store.page(query, on: MultiThreadedEventLoopGroup.singleton.next(), noting: nil).get()
        }

        private func ids(_ store: SQLCharacterStore) async throws -> [Int] {
            try await self.page(store, CharacterQuery(page: 1, pageSize: 100)).results.map(\.id)
        }

        @Test(
            "a database written before page ranks existed is ranked by the migration, every order right at once",
            arguments: Backend.allCases
        )
        func rankMigration(backend: Backend) async throws {
            try await backend.withDatabase { database, _ in
                try await self.withStore(database, migrated: false) { store in
                    let dialect = store.dialect
                    // The schema and data as the release before migration 4 left them.
                    try await store.pool.withConnection { connection in
                        try connection.execute(dialect.migrationsTable)
                        for migration in dialect.migrations where migration.version <= 3 {
                            for statement in migration.sql { try connection.execute(statement) }
                            try connection.execute(
                                "INSERT INTO schema_migrations (version, applied_at) VALUES (\(migration.version), 0)"
                            )
                        }
                        for (id, name) in [(5, "b"), (2, "a"), (9, "a"), (7, "c")] {
                            try connection.execute(
                                """
                                INSERT INTO characters (id, name, status, species, origin, seen_generation)
                                VALUES (\(id), '\(name)', 'Alive', 'Human', 'Earth (C-137)', 1)
                                """
                            )
                        }
                        try connection.execute(
                            "UPDATE refresh_state SET generation = 1, row_count = 4, last_refresh_at = 100 WHERE id = 1"
                        )
                    }
                    try await store.migrate()
                    func ids(_ query: CharacterQuery) async throws -> [Int] {
                        try await self.page(store, query).results.map(\.id)
                    }
                    #expect(try await ids(CharacterQuery(sort: .name)) == [2, 9, 5, 7])
                    #expect(try await ids(CharacterQuery(sort: .name, order: .desc)) == [7, 5, 9, 2])
                    #expect(try await ids(CharacterQuery(order: .desc, page: 1, pageSize: 3)) == [9, 7, 5])
                    #expect(try await ids(CharacterQuery(page: 2, pageSize: 3)) == [9])
                    #expect(try await ids(CharacterQuery(order: .desc, page: 2, pageSize: 3)) == [2])
                    #expect(try await ids(CharacterQuery(page: 3, pageSize: 3)) == [])
                    #expect(try await self.page(store, CharacterQuery()).totalCount == 4)
                }
            }
        }

        @Test("a refresh deletes rows no longer upstream; a failed one changes nothing", arguments: Backend.allCases)
        func replaceSet(backend: Backend) async throws {
            try await backend.withDatabase { database, _ in
                try await self.withStore(database) { store in
                    let first = try await store.refresh(
                        isDue: { _ in true },
                        fetch: { (1...10).map { Self.character($0) } },
                        now: { 1000 }
                    )
                    #expect(first == .replaced(count: 10, generation: 1, changed: true))
                    #expect(try await self.ids(store) == Array(1...10))

                    // The same set again: only the refresh time moves; the generation (and with it
                    // every cached page and ETag) stays.
                    let same = try await store.refresh(
                        isDue: { _ in true },
                        fetch: { (1...10).reversed().map { Self.character($0) } },
                        now: { 1500 }
                    )
                    #expect(same == .replaced(count: 10, generation: 1, changed: false))
                    #expect(try await store.state() == DataState(count: 10, generation: 1, lastRefresh: 1500))

                    let second = try await store.refresh(
                        isDue: { _ in true },
                        fetch: { (5...12).map { Self.character($0, name: "Renamed \($0)") } },
                        now: { 2000 }
                    )
                    #expect(second == .replaced(count: 8, generation: 2, changed: true))
                    #expect(try await self.ids(store) == Array(5...12))
                    #expect(try await self.page(store, CharacterQuery()).results.first?.name == "Renamed 5")

                    struct UpstreamBroke: Error {}
                    await #expect(throws: UpstreamBroke.self) {
                        _ = try await store.refresh(
                            isDue: { _ in true },
                            fetch: { throw UpstreamBroke() },
                            now: { 3000 }
                        )
                    }
                    let state = try await store.state()
                    #expect(state == DataState(count: 8, generation: 2, lastRefresh: 2000))
                    #expect(try await self.ids(store) == Array(5...12))

                    let notDue = try await store.refresh(isDue: { _ in false }, fetch: { [] }, now: { 4000 })
                    #expect(notDue == .skippedNotDue)
                    #expect(try await store.state().generation == 2)
                }
            }
        }

        @Test("a database error part-way through the write rolls the whole refresh back")
        func writeFailureRollsBack() async throws {
            try await Backend.postgres.withDatabase { database, _ in
                try await self.withStore(database) { store in
                    _ = try await store.refresh(
                        isDue: { _ in true },
                        fetch: { (1...3).map { Self.character($0) } },
                        now: { 1000 }
                    )
                    // 700 rows: the first INSERT batch (500) succeeds, the second holds a name longer
                    // than its column, so PostgreSQL fails the statement after rows were written.
                    let rows = (1...700).map {
                        Self.character($0, name: $0 == 650 ? String(repeating: "x", count: 300) : nil)
                    }
                    await #expect(throws: DatabaseError.self) {
                        _ = try await store.refresh(isDue: { _ in true }, fetch: { rows }, now: { 2000 })
                    }
                    #expect(try await store.state() == DataState(count: 3, generation: 1, lastRefresh: 1000))
                    #expect(try await self.ids(store) == [1, 2, 3])
                }
            }
        }

        @Test(
            "while one refresh holds the lease, another skips instead of waiting or failing",
            arguments: Backend.allCases
        )
        func lockSkips(backend: Backend) async throws {
            try await backend.withDatabase { database, _ in
                try await self.withStore(database) { store in
                    let walk = HeldWalk([Self.character(1)])
                    try await withThrowingTaskGroup(of: RefreshOutcome.self) { group in
                        group.addTask {
                            try await store.refresh(isDue: { _ in true }, fetch: walk.fetch, now: { 1000 })
                        }
                        await walk.started()
                        let second = try await store.refresh(
                            isDue: { _ in true },
                            fetch: { [Self.character(2)] },
                            now: { 1001 }
                        )
                        #expect(second == .skippedLocked)
                        walk.release()
                        #expect(try await group.next() == .replaced(count: 1, generation: 1, changed: true))
                    }
                    #expect(try await self.ids(store) == [1])
                }
            }
        }

        @Test(
            "a refresh whose lease was taken by another replica meanwhile writes nothing",
            arguments: Backend.allCases
        )
        func lostLeaseCommitsNothing(backend: Backend) async throws {
            try await backend.withDatabase { database, _ in
                try await self.withStore(database) { store in
                    _ = try await store.refresh(isDue: { _ in true }, fetch: { [Self.character(1)] }, now: { 1000 })
                    let walk = HeldWalk([Self.character(2), Self.character(3)])
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            await #expect(throws: RefreshLeaseLost.self) {
                                _ = try await store.refresh(isDue: { _ in true }, fetch: walk.fetch, now: { 2000 })
                            }
                        }
                        await walk.started()
                        // What another replica does once this one's lease has expired: take it.
                        try await store.pool.withConnection { connection in
                            _ = try connection.query(
                                "UPDATE refresh_lease SET holder = 'other', token = token + 1, expires_at = 1e12",
                                []
                            )
                        }
                        walk.release()
                        try await group.waitForAll()
                    }
                    #expect(try await self.ids(store) == [1])
                    #expect(try await store.state() == DataState(count: 1, generation: 1, lastRefresh: 1000))
                }
            }
        }

        @Test("a lease its holder stopped renewing (a replica that died) is taken over once it expires")
        func abandonedLeaseExpires() async throws {
            try await Backend.postgres.withDatabase { database, _ in
                try await self.withStore(database) { store in
                    let threadPool = NIOThreadPool(numberOfThreads: 2)
                    threadPool.start()
                    defer { threadPool.shutdownGracefully { _ in } }
                    var config = try AppConfig.load(environment: ["DATABASE_URL": database])
                    config.refreshLeaseTTL = .seconds(1)
                    let dead = SQLCharacterStore.make(
                        config: config,
                        threadPool: threadPool,
                        eventLoop: MultiThreadedEventLoopGroup.singleton.next()
                    )
                    let lease = try #require(try await dead.takeLease(), "the lease was free")
                    let started = ContinuousClock.now
                    let refresh: @Sendable () async throws -> RefreshOutcome = {
                        try await store.refresh(isDue: { _ in true }, fetch: { [Self.character(7)] }, now: { 1000 })
                    }
                    #expect(try await refresh() == .skippedLocked)
                    let tookOver = await eventually {
                        (try? await refresh()) == .replaced(count: 1, generation: 1, changed: true)
                    }
                    #expect(tookOver)
                    #expect(ContinuousClock.now - started >= .seconds(0.9), "not before the lease expired")
                    #expect(try await dead.renewLease(lease) == false, "the dead holder's token is stale")
                    #expect(try await self.ids(store) == [7])
                    await dead.close()
                }
            }
        }

        @Test("two instances starting together on an empty PostgreSQL database ingest exactly once")
        func twoInstances() async throws {
            try await withPostgres { server in
                let database = try server.createDatabase()
                try await Harness.withFakeUpstream { upstream, fake in
                    let config = try Harness.appConfig(database: database, upstream: upstream)
                    try await Harness.withApp(config) { first in
                        try await Harness.withApp(config) { second in
                            let success = #"ingest_runs_total{result="success"}"#
                            #expect(await eventually { first.metric(success) + second.metric(success) >= 1 })
                            // Both are up and serving the same data.
                            for app in [first, second] {
                                #expect(await eventually { (try? await fetch("\(app.baseURL)/readyz").status) == 200 })
                                let page = try await fetch("\(app.baseURL)/characters?page_size=5")
                                #expect(page.json["total_count"] as? Int == fake.dataset.knownAnswer.count)
                            }
                            #expect(first.metric(success) + second.metric(success) == 1)
                            #expect(first.metric(#"ingest_runs_total{result="failure"}"#) == 0)
                            #expect(second.metric(#"ingest_runs_total{result="failure"}"#) == 0)
                            let pages = fake.store.requests(path: "/api/character").compactMap {
                                $0.query["page"].flatMap(Int.init)
                            }
                            #expect(pages.sorted() == Array(1...42), "every page fetched exactly once")
                        }
                    }
                }
            }
        }

        @Test("a refresh whose upstream fails half-way leaves the served data as it was", arguments: Backend.allCases)
        func upstreamFailsHalfway(backend: Backend) async throws {
            try await backend.withDatabase { database, _ in
                try await Harness.withFakeUpstream(characters: 200) { upstream, fake in
                    let config = try Harness.appConfig(
                        database: database,
                        upstream: upstream,
                        ["REFRESH_INTERVAL": "0.3", "MAX_RETRIES": "2", "PAGE_CACHE_MAX": "0"]
                    )
                    try await Harness.withApp(config) { app in
                        let failure = #"ingest_runs_total{result="failure"}"#
                        #expect(await eventually { app.metric(#"ingest_runs_total{result="success"}"#) >= 1 })
                        // From now on page 3 of 10 always fails: every refresh dies after pages 1 and 2.
                        let failuresBefore = app.metric(failure)
                        try fake.store.add(
                            Behavior(
                                match: .init(path: "/api/character", query: ["page": "3"]),
                                action: .init(status: 500)
                            )
                        )
                        // Refreshes run one after another: once one has failed, any refresh that was
                        // already past page 3 when the behaviour arrived has finished.
                        #expect(await eventually { app.metric(failure) > failuresBefore })
                        let before = app.metric(#"ingest_runs_total{result="success"}"#)
                        let failuresAtBaseline = app.metric(failure)
                        let baseline = try await fetch("\(app.baseURL)/characters?page_size=100")
                        #expect(await eventually { app.metric(failure) >= failuresAtBaseline + 2 })
                        #expect(app.metric(#"ingest_runs_total{result="success"}"#) == before)
                        let after = try await fetch("\(app.baseURL)/characters?page_size=100")
                        #expect(after.body == baseline.body)
                        let health = try await fetch("\(app.baseURL)/healthcheck").json
                        let refresh = (health["checks"] as? [String: Any])?["refresh"] as? [String: Any]
                        #expect(refresh?["last_result"] as? String == "failure")
                    }
                }
            }
        }
    }
}

/// An upstream walk the test holds open: it says when it has started and returns its rows only
/// when the test releases it.
struct HeldWalk: Sendable {
    private let rows: [StoredCharacter]
    private let inside: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)
    private let gate: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)

    init(_ rows: [StoredCharacter]) {
        self.rows = rows
        self.inside = AsyncStream<Void>.makeStream()
        self.gate = AsyncStream<Void>.makeStream()
    }

    /// The `fetch` to hand to a refresh.
    var fetch: @Sendable () async throws -> [StoredCharacter] {
        { [self] in
            self.inside.continuation.yield()
            for await _ in self.gate.stream { break }
            return self.rows
        }
    }

    /// Returns once the walk has begun.
    func started() async { for await _ in self.inside.stream { break } }

    /// Lets the walk return.
    func release() { self.gate.continuation.yield() }
}

extension PageSnapshot {
    /// The page's characters as a client reads them from the body.
    fileprivate var results: [(id: Int, name: String)] {
        let json = (try? JSONSerialization.jsonObject(with: Data(self.body))) as? [String: Any]
        return (json?["results"] as? [[String: Any]] ?? []).map { ($0["id"] as? Int ?? 0, $0["name"] as? String ?? "") }
    }
}

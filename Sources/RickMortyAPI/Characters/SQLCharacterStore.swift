import Foundation
import NIOCore
import NIOPosix
import Native
import SystemSupport

/// ``CharacterStore`` over SQLite or PostgreSQL through a ``ConnectionPool``.
final class SQLCharacterStore: CharacterStore {
    let dialect: SQLDialect
    let pool: ConnectionPool
    /// This instance's name in the refresh lease: host, process and a random part.
    let holder: String
    /// How long a refresh lease lasts without renewal (`REFRESH_LEASE_TTL`).
    let leaseTTL: Duration
    private let temporaryFiles: [String]
    private let pageSQL: [String]

    /// Rows per multi-row INSERT: 8 parameters each keeps a batch far below both backends' limits.
    static let insertBatch = 500

    init(
        dialect: SQLDialect,
        pool: ConnectionPool,
        leaseTTL: Duration = .seconds(30),
        holder: String = SQLCharacterStore.makeHolder(),
        temporaryFiles: [String] = []
    ) {
        self.pageSQL = Self.pageQueries(dialect)
        self.dialect = dialect
        self.pool = pool
        self.leaseTTL = leaseTTL
        self.holder = holder
        self.temporaryFiles = temporaryFiles
    }

    /// `host/pid/random`: unique per instance, readable in `refresh_lease.holder`.
    static func makeHolder() -> String {
        let host = ProcessInfo.processInfo.hostName
        return "\(host)/\(getpid())/\(String(UInt32.random(in: .min ... .max), radix: 16))"
    }

    /// Builds the store `config.database` names, with a pool of `config.dbPoolSize` connections
    /// whose calls run on `threadPool`; `eventLoop` runs the pool's timer.
    static func make(config: AppConfig, threadPool: NIOThreadPool, eventLoop: any EventLoop) -> SQLCharacterStore {
        let queryTimeout = config.dbQueryTimeout.seconds
        let connectTimeout = config.dbConnectTimeout.seconds
        switch config.database {
        case .postgres(let conninfo):
            let pool = ConnectionPool(
                capacity: config.dbPoolSize,
                // Each reading connection carries up to 16 queries in flight (pipeline mode) and
                // holds a thread while it waits: no more of them than there are CPUs.
                readParallelism: UsableProcessors.count,
                acquireTimeout: config.dbConnectTimeout,
                threadPool: threadPool,
                eventLoop: eventLoop
            ) {
                try PostgresConnection(conninfo: conninfo, connectTimeout: connectTimeout, queryTimeout: queryTimeout)
            }
            return SQLCharacterStore(dialect: .postgres, pool: pool, leaseTTL: config.refreshLeaseTTL)
        case .sqliteFile(let path):
            return SQLCharacterStore(
                dialect: .sqlite,
                pool: Self.sqlitePool(path: path, config: config, threadPool: threadPool, eventLoop: eventLoop),
                leaseTTL: config.refreshLeaseTTL
            )
        case .sqliteMemory:
            // Pooled connections must share one database, so "memory" is a private temporary file.
            let path = NSTemporaryDirectory() + "rickmorty-\(getpid())-\(UUID().uuidString).sqlite"
            return SQLCharacterStore(
                dialect: .sqlite,
                pool: Self.sqlitePool(path: path, config: config, threadPool: threadPool, eventLoop: eventLoop),
                leaseTTL: config.refreshLeaseTTL,
                temporaryFiles: [path, path + "-wal", path + "-shm"]
            )
        }
    }

    private static func sqlitePool(
        path: String,
        config: AppConfig,
        threadPool: NIOThreadPool,
        eventLoop: any EventLoop
    ) -> ConnectionPool {
        let busyTimeout = config.dbQueryTimeout.seconds
        let folder = (path as NSString).deletingLastPathComponent
        return ConnectionPool(
            capacity: config.dbPoolSize,
            // A SQLite read is CPU work in this process: no more at once than there are CPUs.
            readParallelism: UsableProcessors.count,
            acquireTimeout: config.dbConnectTimeout,
            threadPool: threadPool,
            eventLoop: eventLoop
        ) {
            // Created on each attempt rather than once at startup, so a folder that cannot be made
            // now is retried by the migration loop instead of failing the start.
            if !folder.isEmpty {
                try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
            let connection = try SQLiteConnection(path: path, busyTimeout: busyTimeout)
            // WAL lets readers run beside the refresh's write transaction; a small page cache
            // per connection keeps memory flat (the data set is small).
            try connection.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-512;")
            return connection
        }
    }

    /// Closes the pool's connections first, then removes the temporary files they used.
    func close() async {
        self.pool.close()
        for file in self.temporaryFiles { try? FileManager.default.removeItem(atPath: file) }
    }

    // MARK: - Schema

    func migrate() async throws {
        let dialect = self.dialect
        try await self.pool.withConnection { connection in
            try Self.transaction(connection, begin: dialect.beginMigration) {
                try connection.execute(dialect.migrationsTable)
                let applied = Set(
                    try connection.query("SELECT version FROM schema_migrations", []).compactMap { $0.first?.int }
                )
                for migration in dialect.migrations where !applied.contains(Int64(migration.version)) {
                    for statement in migration.sql { try connection.execute(statement) }
                    _ = try connection.query(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (\(dialect.parameter(1)), \(dialect.parameter(2)))",
                        [.int(Int64(migration.version)), .double(Date().timeIntervalSince1970)]
                    )
                }
            }
        }
    }

    // MARK: - Reads

    func page(
        _ query: CharacterQuery,
        on eventLoop: any EventLoop,
        noting use: DatabaseUse?
    ) -> EventLoopFuture<PageSnapshot> {
        // One statement, so one snapshot on both backends. The count and generation come from the
        // refresh bookkeeping row; the page is the rows whose rank in the sort order falls in the
        // page's range (an index range scan of page_size rows at any depth). The LEFT JOIN keeps
        // the bookkeeping row when the page is empty.
        let sql = self.pageSQL[Self.pageSQLIndex(query)]
        let parameters: [DatabaseValue] = [.int(Int64(query.pageSize)), .int(Int64(query.offset))]
        let page = PageAssembly(query: query)
        return self.pool.read(
            sql,
            parameters,
            on: eventLoop,
            noting: use,
            eachRow: { page.add($0) },
            finish: { page.snapshot() }
        )
    }

    /// A page being read: the body is written straight from the rows as the database hands them
    /// over. Used by one thread at a time (the pool thread that runs the read), so unchecked.
    private final class PageAssembly: @unchecked Sendable {
        let query: CharacterQuery
        private var facts = (count: 0, generation: Int64(0))
        private var writer: CharacterPage.Writer?

        init(query: CharacterQuery) { self.query = query }

        func add(_ row: DatabaseRow) {
            if self.writer == nil {
                self.facts = (Int(row.int(0) ?? 0), row.int(1) ?? 0)
                self.writer = CharacterPage.Writer(CharacterPage(query: self.query, totalCount: self.facts.count))
            }
            // The empty half of the LEFT JOIN: the page has no rows.
            guard let id = row.int(2), let name = row.text(3) else { return }
            self.writer?.add(
                id: Int(id),
                name: name,
                status: row.text(4),
                species: row.text(5),
                origin: row.text(6),
                image: row.text(7),
                url: row.text(8)
            )
        }

        func snapshot() -> PageSnapshot {
            let writer = self.writer ?? CharacterPage.Writer(CharacterPage(query: self.query, totalCount: 0))
            self.writer = nil
            return PageSnapshot(totalCount: self.facts.count, generation: self.facts.generation, body: writer.finish())
        }
    }

    private static func pageSQLIndex(_ query: CharacterQuery) -> Int {
        (query.sort == .id ? 0 : 2) + (query.order == .asc ? 0 : 1)
    }

    /// The page query for each (sort, order), built once. `$1` is the page size and `$2` the
    /// offset; a descending page counts its range back from the row count of the same snapshot.
    private static func pageQueries(_ dialect: SQLDialect) -> [String] {
        let (size, offset) = ("CAST(\(dialect.parameter(1)) AS BIGINT)", "CAST(\(dialect.parameter(2)) AS BIGINT)")
        return [("id_rank", "ASC"), ("id_rank", "DESC"), ("name_rank", "ASC"), ("name_rank", "DESC")].map {
            rank,
            order in
            let range =
                order == "ASC"
                ? "c.\(rank) > \(offset) AND c.\(rank) <= \(offset) + \(size)"
                : "c.\(rank) > m.row_count - \(offset) - \(size) AND c.\(rank) <= m.row_count - \(offset)"
            return """
                SELECT m.row_count, m.generation, c.id, c.name, c.status, c.species, c.origin, c.image, c.url
                FROM refresh_state AS m LEFT JOIN characters AS c ON \(range)
                WHERE m.id = 1 ORDER BY c.\(rank) \(order)
                """
        }
    }

    func state() async throws -> DataState {
        try await self.pool.withConnection { try Self.readState($0) }
    }

    private static func readState(_ connection: any DatabaseConnection) throws -> DataState {
        let rows = try connection.query(
            "SELECT row_count, generation, last_refresh_at FROM refresh_state WHERE id = 1",
            []
        )
        guard let row = rows.first else { return DataState(count: 0, generation: 0, lastRefresh: nil) }
        return DataState(count: Int(row[0].int ?? 0), generation: row[1].int ?? 0, lastRefresh: row[2].double)
    }

    // MARK: - Refresh

    /// The refresh in three short steps, none of which holds a connection or a transaction while
    /// the upstream is walked: take the lease (one statement), walk the upstream renewing it, then
    /// one write transaction that checks the lease is still ours, writes, and gives it back.
    func refresh(
        isDue: @escaping @Sendable (DataState) -> Bool,
        fetch: @escaping @Sendable () async throws -> [StoredCharacter],
        now: @escaping @Sendable () -> Double
    ) async throws -> RefreshOutcome {
        let lease: RefreshLease?
        do {
            lease = try await self.takeLease()
        } catch let error as DatabaseError where error.kind == .busy {
            lease = nil  // SQLite: another replica is writing; it is as good as holding the lease.
        }
        guard let lease else { return .skippedLocked }
        do {
            guard isDue(try await self.state()) else {
                try await self.releaseLease(lease)
                return .skippedNotDue
            }
            let characters = try await self.whileHolding(lease, fetch)
            try Task.checkCancellation()
            let dialect = self.dialect
            return try await self.pool.withConnection { connection in
                try Self.transaction(connection, begin: dialect.beginWrite) {
                    guard try Self.holds(lease, connection, dialect: dialect) else { throw RefreshLeaseLost() }
                    let outcome = try Self.store(characters, connection, dialect: dialect, at: now())
                    _ = try connection.query(Self.releaseSQL(dialect), [.int(lease.token)])
                    return outcome
                }
            }
        } catch {
            // Best effort: if this fails too, the lease simply expires.
            try? await self.releaseLease(lease)
            throw error
        }
    }

    /// Inside the write transaction: replaces the stored set with `characters` under a new
    /// generation, or, when they are exactly what is stored, only records the refresh time (the
    /// generation, the cached pages and their ETags stay valid).
    private static func store(
        _ characters: [StoredCharacter],
        _ connection: any DatabaseConnection,
        dialect: SQLDialect,
        at time: Double
    ) throws -> RefreshOutcome {
        let state = try Self.readState(connection)
        let incoming = characters.sorted { $0.id < $1.id }
        if state.lastRefresh != nil, try Self.readAll(connection) == incoming {
            _ = try connection.query(
                "UPDATE refresh_state SET last_refresh_at = \(dialect.parameter(1)) WHERE id = 1",
                [.double(time)]
            )
            return .replaced(count: incoming.count, generation: state.generation, changed: false)
        }
        let generation = state.generation + 1
        try Self.replace(connection, dialect: dialect, with: characters, generation: generation, at: time)
        return .replaced(count: incoming.count, generation: generation, changed: true)
    }

    /// Every stored row, by id.
    private static func readAll(_ connection: any DatabaseConnection) throws -> [StoredCharacter] {
        try connection.query("SELECT id, name, status, species, origin, image, url FROM characters ORDER BY id", [])
            .compactMap { Self.character(in: $0, from: 0) }
    }

    /// The character in `row`'s columns id, name, status, species, origin, image, url from
    /// `start` on; nil for the empty half of a LEFT JOIN.
    private static func character(in row: [DatabaseValue], from start: Int) -> StoredCharacter? {
        guard let id = row[start].int, let name = row[start + 1].text else { return nil }
        return StoredCharacter(
            id: Int(id),
            name: name,
            status: row[start + 2].text ?? "",
            species: row[start + 3].text ?? "",
            origin: row[start + 4].text ?? "",
            image: row[start + 5].text,
            url: row[start + 6].text
        )
    }

    /// Upserts every row with the new generation, deletes the rest and records the refresh.
    private static func replace(
        _ connection: any DatabaseConnection,
        dialect: SQLDialect,
        with characters: [StoredCharacter],
        generation: Int64,
        at time: Double
    ) throws {
        var start = 0
        while start < characters.count {
            let batch = characters[start..<min(start + insertBatch, characters.count)]
            var placeholders: [String] = []
            var parameters: [DatabaseValue] = []
            parameters.reserveCapacity(batch.count * 8)
            for character in batch {
                let base = parameters.count
                placeholders.append("(" + (1...8).map { dialect.parameter(base + $0) }.joined(separator: ", ") + ")")
                parameters += [
                    .int(Int64(character.id)), .text(character.name), .text(character.status), .text(character.species),
                    .text(character.origin), character.image.map { .text($0) } ?? .null,
                    character.url.map { .text($0) } ?? .null, .int(generation),
                ]
            }
            let sql = """
                INSERT INTO characters (id, name, status, species, origin, image, url, seen_generation)
                VALUES \(placeholders.joined(separator: ", "))
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status,
                    species = excluded.species, origin = excluded.origin, image = excluded.image,
                    url = excluded.url, seen_generation = excluded.seen_generation
                """
            _ = try connection.query(sql, parameters)
            start += insertBatch
        }
        _ = try connection.query(
            "DELETE FROM characters WHERE seen_generation <> \(dialect.parameter(1))",
            [.int(generation)]
        )
        _ = try connection.query(dialect.rankStatement, [])
        _ = try connection.query(
            """
            UPDATE refresh_state SET generation = \(dialect.parameter(1)), last_refresh_at = \(dialect.parameter(2)),
                row_count = (SELECT count(*) FROM characters) WHERE id = 1
            """,
            [.int(generation), .double(time)]
        )
    }

    /// Runs `body` inside a transaction opened by `begin`, rolling back on any error.
    private static func transaction<T>(
        _ connection: any DatabaseConnection,
        begin: [String],
        _ body: () throws -> T
    ) throws -> T {
        for statement in begin { _ = try connection.query(statement, []) }
        do {
            let result = try body()
            try connection.execute("COMMIT")
            return result
        } catch {
            if !connection.isBroken { try? connection.execute("ROLLBACK") }
            throw error
        }
    }
}

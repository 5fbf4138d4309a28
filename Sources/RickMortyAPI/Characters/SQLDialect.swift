/// The SQL that differs between SQLite and PostgreSQL. Everything else is shared.
enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// The n-th positional parameter (1-based).
    func parameter(_ index: Int) -> String {
        switch self {
        case .sqlite: return "?\(index)"
        case .postgres: return "$\(index)"
        }
    }

    /// `name` compared byte by byte, the same on both backends.
    var nameInByteOrder: String {
        switch self {
        case .sqlite: return "name"  // SQLite's default BINARY collation is memcmp on UTF-8.
        case .postgres: return "name COLLATE \"C\""
        }
    }

    /// ORDER BY terms for a query; `sort=name` ties are broken by id in the same direction.
    func orderBy(_ query: CharacterQuery, table: String? = nil) -> String {
        let prefix = table.map { "\($0)." } ?? ""
        let direction = query.order == .asc ? "ASC" : "DESC"
        switch query.sort {
        case .id: return "\(prefix)id \(direction)"
        case .name: return "\(prefix)\(self.nameInByteOrder) \(direction), \(prefix)id \(direction)"
        }
    }

    /// Sets every row's `id_rank` and `name_rank`: its 1-based position in each sort order, so that
    /// a page is the rows whose rank is in a range (an index range of `page_size` rows) however
    /// deep it is, where `OFFSET` would step over every row before it. One statement that both
    /// backends run alike; a row whose ranks did not move is not written.
    var rankStatement: String {
        """
        INSERT INTO characters (id, name, status, species, origin, image, url, seen_generation, id_rank, name_rank)
        SELECT id, name, status, species, origin, image, url, seen_generation,
               row_number() OVER (ORDER BY id), row_number() OVER (ORDER BY \(self.nameInByteOrder), id)
        FROM characters WHERE true
        ON CONFLICT (id) DO UPDATE SET id_rank = excluded.id_rank, name_rank = excluded.name_rank
        WHERE characters.id_rank <> excluded.id_rank OR characters.name_rank <> excluded.name_rank
        """
    }

    /// Starts the short write transaction at the end of a refresh (SQLite: take the write lock
    /// now rather than at the first write, so a busy database fails before anything is read).
    var beginWrite: [String] {
        switch self {
        case .sqlite: return ["BEGIN IMMEDIATE"]
        case .postgres: return ["BEGIN"]
        }
    }

    /// The database server's own clock as Unix seconds, so that lease expiry does not depend on
    /// the replicas' clocks agreeing.
    var epochNow: String {
        switch self {
        case .sqlite: return "((julianday('now') - 2440587.5) * 86400.0)"
        case .postgres: return "extract(epoch FROM clock_timestamp())::double precision"
        }
    }

    /// Locks the lease row read in the write transaction until COMMIT (SQLite's write lock
    /// already covers the whole database).
    var forUpdate: String {
        switch self {
        case .sqlite: return ""
        case .postgres: return " FOR UPDATE"
        }
    }

    /// Statements that start the migration transaction under an exclusive lock.
    var beginMigration: [String] {
        switch self {
        case .sqlite: return ["BEGIN IMMEDIATE"]
        case .postgres: return ["BEGIN", "SELECT pg_advisory_xact_lock(\(Self.migrationLockKey))"]
        }
    }

    // Advisory lock key: "RMLM" as a 32-bit integer, unlikely to collide with others'.
    static let migrationLockKey = 0x524D_4C4D

    /// Versioned schema migrations, applied in order inside the migration transaction.
    var migrations: [(version: Int, sql: [String])] {
        switch self {
        case .sqlite:
            return [
                (
                    1,
                    [
                        """
                        CREATE TABLE IF NOT EXISTS characters (
                            id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
                            species TEXT NOT NULL, origin TEXT NOT NULL, image TEXT, url TEXT,
                            seen_generation INTEGER NOT NULL DEFAULT 0)
                        """,
                        "CREATE INDEX IF NOT EXISTS characters_name_id ON characters (name, id)",
                        """
                        CREATE TABLE IF NOT EXISTS refresh_state (
                            id INTEGER PRIMARY KEY CHECK (id = 1), generation INTEGER NOT NULL, last_refresh_at REAL)
                        """,
                        "INSERT INTO refresh_state (id, generation, last_refresh_at) VALUES (1, 0, NULL) ON CONFLICT (id) DO NOTHING",
                    ]
                ),
                (
                    2,
                    [
                        // The row count kept beside the generation, so a page read never counts rows.
                        "ALTER TABLE refresh_state ADD COLUMN row_count INTEGER NOT NULL DEFAULT 0",
                        "UPDATE refresh_state SET row_count = (SELECT count(*) FROM characters) WHERE id = 1",
                    ]
                ),
                (
                    3,
                    [
                        // The refresh lease: who may walk the upstream now, and until when.
                        """
                        CREATE TABLE IF NOT EXISTS refresh_lease (
                            id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT, token INTEGER NOT NULL,
                            expires_at REAL NOT NULL)
                        """,
                        "INSERT INTO refresh_lease (id, holder, token, expires_at) VALUES (1, NULL, 0, 0) ON CONFLICT (id) DO NOTHING",
                    ]
                ),
                (
                    4,
                    [
                        // Each row's position in both sort orders (rankStatement), kept by every refresh.
                        "ALTER TABLE characters ADD COLUMN id_rank INTEGER NOT NULL DEFAULT 0",
                        "ALTER TABLE characters ADD COLUMN name_rank INTEGER NOT NULL DEFAULT 0",
                        self.rankStatement,
                        "CREATE INDEX IF NOT EXISTS characters_id_rank ON characters (id_rank)",
                        "CREATE INDEX IF NOT EXISTS characters_name_rank ON characters (name_rank)",
                    ]
                ),
            ]
        case .postgres:
            return [
                (
                    1,
                    [
                        """
                        CREATE TABLE IF NOT EXISTS characters (
                            id BIGINT PRIMARY KEY, name VARCHAR(200) NOT NULL, status VARCHAR(32) NOT NULL,
                            species VARCHAR(100) NOT NULL, origin VARCHAR(200) NOT NULL,
                            image VARCHAR(2048), url VARCHAR(2048), seen_generation BIGINT NOT NULL DEFAULT 0)
                        """,
                        "CREATE INDEX IF NOT EXISTS characters_name_id ON characters ((name COLLATE \"C\"), id)",
                        """
                        CREATE TABLE IF NOT EXISTS refresh_state (
                            id INT PRIMARY KEY CHECK (id = 1), generation BIGINT NOT NULL, last_refresh_at DOUBLE PRECISION)
                        """,
                        "INSERT INTO refresh_state (id, generation, last_refresh_at) VALUES (1, 0, NULL) ON CONFLICT (id) DO NOTHING",
                    ]
                ),
                (
                    2,
                    [
                        // The row count kept beside the generation, so a page read never counts rows.
                        "ALTER TABLE refresh_state ADD COLUMN IF NOT EXISTS row_count BIGINT NOT NULL DEFAULT 0",
                        "UPDATE refresh_state SET row_count = (SELECT count(*) FROM characters) WHERE id = 1",
                    ]
                ),
                (
                    3,
                    [
                        // The refresh lease: who may walk the upstream now, and until when.
                        """
                        CREATE TABLE IF NOT EXISTS refresh_lease (
                            id INT PRIMARY KEY CHECK (id = 1), holder TEXT, token BIGINT NOT NULL,
                            expires_at DOUBLE PRECISION NOT NULL)
                        """,
                        "INSERT INTO refresh_lease (id, holder, token, expires_at) VALUES (1, NULL, 0, 0) ON CONFLICT (id) DO NOTHING",
                    ]
                ),
                (
                    4,
                    [
                        // Each row's position in both sort orders (rankStatement), kept by every refresh.
                        "ALTER TABLE characters ADD COLUMN IF NOT EXISTS id_rank BIGINT NOT NULL DEFAULT 0",
                        "ALTER TABLE characters ADD COLUMN IF NOT EXISTS name_rank BIGINT NOT NULL DEFAULT 0",
                        self.rankStatement,
                        "CREATE INDEX IF NOT EXISTS characters_id_rank ON characters (id_rank)",
                        "CREATE INDEX IF NOT EXISTS characters_name_rank ON characters (name_rank)",
                    ]
                ),
            ]
        }
    }

    /// The bookkeeping table for migrations.
    var migrationsTable: String {
        switch self {
        case .sqlite:
            return
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        case .postgres:
            return
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
        }
    }
}

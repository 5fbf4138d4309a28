import CSQLite

/// One SQLite database handle. Not thread-safe: a pool hands it to one caller at a time.
/// Prepared statements are cached per SQL text, since the service runs a handful of shapes.
public final class SQLiteConnection: DatabaseConnection {
    private let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]
    public private(set) var isBroken = false
    public var localAddress: String? { nil }

    /// Opens (creating if needed) the database at `path`; `path` may be a `file:` URI.
    /// `busyTimeout` is how long a statement waits for another writer's lock.
    public init(path: String, busyTimeout: Double) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw DatabaseError(kind: .connectFailed, message: "cannot open SQLite database: \(message)")
        }
        self.handle = db
        sqlite3_busy_timeout(db, Int32(max(0, min(busyTimeout * 1000, Double(Int32.max)))))
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        for statement in self.statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(self.handle)
    }

    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(self.handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw self.error(rc, text)
        }
    }

    public func query(
        _ sql: String,
        _ parameters: [DatabaseValue],
        eachRow: (DatabaseRow) throws -> Void
    ) throws {
        let statement = try self.prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (offset, value) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, index)
            case .int(let int): rc = sqlite3_bind_int64(statement, index, int)
            case .double(let double): rc = sqlite3_bind_double(statement, index, double)
            case .text(let text): rc = sqlite3_bind_text(statement, index, text, -1, csqlite_transient())
            }
            guard rc == SQLITE_OK else { throw self.error(rc, self.lastMessage) }
        }
        let row = DatabaseRow(source: .sqlite(statement), count: Int(sqlite3_column_count(statement)))
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw self.error(rc, self.lastMessage) }
            try eachRow(row)
        }
    }

    // Column readers for DatabaseRow; valid until the statement steps again or is reset.

    static func isNull(_ statement: OpaquePointer, _ column: Int) -> Bool {
        sqlite3_column_type(statement, Int32(column)) == SQLITE_NULL
    }

    static func text(_ statement: OpaquePointer, _ column: Int) -> UnsafeRawBufferPointer? {
        // Text first, then its length: the order SQLite asks for, so the bytes stay put.
        guard let bytes = sqlite3_column_text(statement, Int32(column)) else { return nil }
        return UnsafeRawBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(statement, Int32(column))))
    }

    static func int(_ statement: OpaquePointer, _ column: Int) -> Int64? {
        switch sqlite3_column_type(statement, Int32(column)) {
        case SQLITE_INTEGER: return sqlite3_column_int64(statement, Int32(column))
        case SQLITE_NULL: return nil
        default: return Self.value(statement, column).int
        }
    }

    static func value(_ statement: OpaquePointer, _ column: Int) -> DatabaseValue {
        let column = Int32(column)
        switch sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: return .int(sqlite3_column_int64(statement, column))
        case SQLITE_FLOAT: return .double(sqlite3_column_double(statement, column))
        case SQLITE_NULL: return .null
        default:
            guard let bytes = sqlite3_column_text(statement, column) else { return .null }
            let count = Int(sqlite3_column_bytes(statement, column))
            let buffer = UnsafeBufferPointer(start: bytes, count: count)
            return .text(String(decoding: buffer, as: UTF8.self))
        }
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let cached = self.statements[sql] { return cached }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(self.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw self.error(rc, self.lastMessage) }
        self.statements[sql] = statement
        return statement
    }

    private var lastMessage: String { String(cString: sqlite3_errmsg(self.handle)) }

    private func error(_ code: Int32, _ message: String) -> DatabaseError {
        let kind: DatabaseError.Kind
        switch code & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED: kind = .busy
        case SQLITE_READONLY: kind = .readOnly
        case SQLITE_CANTOPEN, SQLITE_IOERR, SQLITE_FULL, SQLITE_NOLFS:
            kind = .connectionLost
            self.isBroken = true
        case SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_TOOBIG, SQLITE_RANGE: kind = .constraint
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            kind = .other
            self.isBroken = true
        default: kind = .other
        }
        return DatabaseError(kind: kind, message: message)
    }
}

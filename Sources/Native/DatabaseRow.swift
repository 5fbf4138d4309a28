/// One row of a result, read in place where SQLite or libpq keeps it: no copy is made until a
/// caller asks for one. A row and the bytes it hands out are valid only inside the
/// ``DatabaseConnection/query(_:_:eachRow:)`` call that passes it; copy what you keep.
public struct DatabaseRow {
    enum Source {
        /// A stepped SQLite statement.
        case sqlite(OpaquePointer)
        /// A libpq result and the row's index in it (PostgreSQL sends every value as text).
        case postgres(OpaquePointer, Int32)
    }

    let source: Source
    /// The number of columns.
    public let count: Int

    public func isNull(_ column: Int) -> Bool {
        switch self.source {
        case .sqlite(let statement): return SQLiteConnection.isNull(statement, column)
        case .postgres(let result, let row): return PostgresConnection.isNull(result, row, column)
        }
    }

    /// The column's UTF-8 text, nil when it is NULL (numbers come as their decimal text).
    public func text(_ column: Int) -> UnsafeRawBufferPointer? {
        switch self.source {
        case .sqlite(let statement): return SQLiteConnection.text(statement, column)
        case .postgres(let result, let row): return PostgresConnection.text(result, row, column)
        }
    }

    /// The column as an integer, when it holds one.
    public func int(_ column: Int) -> Int64? {
        switch self.source {
        case .sqlite(let statement): return SQLiteConnection.int(statement, column)
        case .postgres: return self.text(column).flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
        }
    }

    /// The column as a ``DatabaseValue``: typed as stored on SQLite, text on PostgreSQL.
    public func value(_ column: Int) -> DatabaseValue {
        switch self.source {
        case .sqlite(let statement): return SQLiteConnection.value(statement, column)
        case .postgres:
            return self.text(column).map { .text(String(decoding: $0, as: UTF8.self)) } ?? .null
        }
    }
}

/// One statement of a batch (``DatabaseConnection/run(_:)``): its SQL and parameters, what
/// receives its rows, and what is told its outcome, as soon as it is known.
public struct DatabaseQuery {
    public let sql: String
    public let parameters: [DatabaseValue]
    public let eachRow: (DatabaseRow) throws -> Void
    public let done: (Result<Void, any Error>) -> Void

    public init(
        _ sql: String,
        _ parameters: [DatabaseValue],
        eachRow: @escaping (DatabaseRow) throws -> Void,
        done: @escaping (Result<Void, any Error>) -> Void
    ) {
        self.sql = sql
        self.parameters = parameters
        self.eachRow = eachRow
        self.done = done
    }

    /// Runs it alone on `connection` and tells `done`.
    func run(on connection: any DatabaseConnection) {
        self.done(Result { try connection.query(self.sql, self.parameters, eachRow: self.eachRow) })
    }
}

extension DatabaseConnection {
    /// One statement after another.
    public func run(_ queries: [DatabaseQuery]) {
        for query in queries { query.run(on: self) }
    }

    /// Runs one statement and returns every row, copied out as values. Throws ``DatabaseError``.
    public func query(_ sql: String, _ parameters: [DatabaseValue]) throws -> [[DatabaseValue]] {
        var rows: [[DatabaseValue]] = []
        try self.query(sql, parameters) { row in rows.append((0..<row.count).map { row.value($0) }) }
        return rows
    }
}

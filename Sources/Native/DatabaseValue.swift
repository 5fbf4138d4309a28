/// One value bound to or read from a statement. PostgreSQL results arrive as text and are
/// converted on access, so `int`/`double` accept either representation.
public enum DatabaseValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)

    /// The value as an integer, when it is one (or is text holding one).
    public var int: Int64? {
        switch self {
        case .int(let value): return value
        case .text(let text): return Int64(text)
        case .double(let value): return Int64(exactly: value)
        case .null: return nil
        }
    }

    /// The value as a double, when it is numeric.
    public var double: Double? {
        switch self {
        case .double(let value): return value
        case .int(let value): return Double(value)
        case .text(let text): return Double(text)
        case .null: return nil
        }
    }

    /// The value as text; numbers are rendered in decimal.
    public var text: String? {
        switch self {
        case .text(let text): return text
        case .int(let value): return String(value)
        case .double(let value): return String(value)
        case .null: return nil
        }
    }

    /// The value as a boolean (PostgreSQL's `t`/`f`, or a non-zero integer).
    public var bool: Bool? {
        switch self {
        case .text(let text): return text == "t" || text == "true" || text == "1"
        case .int(let value): return value != 0
        case .double(let value): return value != 0
        case .null: return nil
        }
    }
}

/// A connection that runs SQL. Implementations block the calling thread: run them on a thread
/// pool, one caller at a time.
public protocol DatabaseConnection: AnyObject {
    /// Runs one or more statements that return no rows. Throws ``DatabaseError``.
    func execute(_ sql: String) throws
    /// Runs one statement with positional parameters and hands each row to `eachRow` as it is
    /// read, in place (see ``DatabaseRow``). An error thrown by `eachRow` ends the query and is
    /// rethrown once the connection is ready for the next one. Throws ``DatabaseError``.
    func query(_ sql: String, _ parameters: [DatabaseValue], eachRow: (DatabaseRow) throws -> Void) throws
    /// Runs `queries`, telling each its outcome as soon as it is known; one that fails does not
    /// stop the others. PostgreSQL sends them all before reading any answer (libpq's pipeline
    /// mode: one round trip for the lot); SQLite runs them one after another.
    func run(_ queries: [DatabaseQuery])
    /// True once the connection is known to be unusable; a pool discards it.
    var isBroken: Bool { get }
    /// This end of the connection's socket (`127.0.0.1:54321`), which the database and any proxy
    /// in between see as the client; nil for an embedded database.
    var localAddress: String? { get }
}

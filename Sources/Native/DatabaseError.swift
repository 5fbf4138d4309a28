/// A database failure, classified where the C return code is still known so that nothing outside
/// `Native` ever sees one.
public struct DatabaseError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in terms a caller can act on.
    public enum Kind: String, Sendable, CaseIterable {
        /// The connection could not be opened (refused, unreachable, authentication, bad address).
        case connectFailed = "connect_failed"
        /// An open connection broke while it was in use (reset, closed by the server).
        case connectionLost = "connection_lost"
        /// No answer within the deadline; the connection is closed because its state is unknown.
        case timedOut = "timeout"
        /// The database is locked by another writer (SQLite `BUSY`/`LOCKED`).
        case busy
        /// The database refuses writes (read-only file system, standby server, `25006`).
        case readOnly = "read_only"
        /// The server has no connection slots left (`53300`, `53000`-class resource errors).
        case tooManyConnections = "too_many_connections"
        /// The server is shutting down or starting up (`57P01`…`57P03`).
        case serverShutdown = "server_shutdown"
        /// A transaction lost a serialization race (`40001`, `40P01`); retrying may succeed.
        case serialization
        /// A constraint or data rule was violated; retrying will not help.
        case constraint
        /// Every connection of a pool stayed in use for the whole wait (raised by pools).
        case poolExhausted = "pool_exhausted"
        /// Anything else: a bug in SQL, a corrupt file, an unexpected server error.
        case other
    }

    /// The classification.
    public let kind: Kind
    /// PostgreSQL's SQLSTATE when the server sent one.
    public let sqlState: String?
    /// The library's message; may contain server detail, so log it, never send it to a client.
    public let message: String

    /// Creates an error.
    public init(kind: Kind, sqlState: String? = nil, message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    /// True for failures that are expected to go away by themselves (the database is down,
    /// restarting, overloaded or locked), as opposed to bugs and bad data.
    public var isTransient: Bool {
        switch self.kind {
        case .connectFailed, .connectionLost, .timedOut, .busy, .readOnly, .tooManyConnections,
            .serverShutdown, .serialization, .poolExhausted:
            return true
        case .constraint, .other:
            return false
        }
    }

    public var description: String {
        if let sqlState { return "\(self.kind.rawValue) [\(sqlState)]: \(self.message)" }
        return "\(self.kind.rawValue): \(self.message)"
    }
}

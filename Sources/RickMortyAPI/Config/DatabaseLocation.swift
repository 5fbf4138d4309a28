import Foundation

/// Where the characters are stored, decided by `DATABASE_URL`.
enum DatabaseLocation: Equatable, Sendable {
    /// An SQLite file (created with its folder when missing).
    case sqliteFile(path: String)
    /// A private in-memory SQLite database, for tests.
    case sqliteMemory
    /// A PostgreSQL server, as a libpq URL or keyword string.
    case postgres(conninfo: String)

    /// The backend name used in logs and metrics.
    var backend: String {
        switch self {
        case .sqliteFile, .sqliteMemory: return "sqlite"
        case .postgres: return "postgres"
        }
    }

    /// Parses `DATABASE_URL`. Returns nil when the value names no backend this service knows.
    static func parse(_ value: String) -> DatabaseLocation? {
        if value == "sqlite::memory:" { return .sqliteMemory }
        if value.hasPrefix("sqlite:") {
            var path = String(value.dropFirst("sqlite:".count))
            // `sqlite:///abs/path` is absolute; `sqlite://rel` and `sqlite:rel` are relative.
            if path.hasPrefix("///") {
                path = String(path.dropFirst(2))
            } else if path.hasPrefix("//") {
                path = String(path.dropFirst(2))
            }
            return path.isEmpty ? nil : .sqliteFile(path: path)
        }
        if value.hasPrefix("postgres://") || value.hasPrefix("postgresql://") {
            return .postgres(conninfo: value)
        }
        // A libpq keyword string: `key=value` pairs separated by spaces.
        let words = value.split(separator: " ", omittingEmptySubsequences: true)
        if !words.isEmpty, words.allSatisfy({ $0.contains("=") && $0.first != "=" }) {
            return .postgres(conninfo: value)
        }
        return nil
    }

    /// The location with any password replaced by `***`, safe to log.
    var redacted: String {
        switch self {
        case .sqliteFile(let path): return "sqlite:\(path)"
        case .sqliteMemory: return "sqlite::memory:"
        case .postgres(let conninfo): return Self.redact(conninfo)
        }
    }

    /// Replaces the password in a URL (`user:secret@`) or keyword string (`password=secret`).
    static func redact(_ text: String) -> String {
        var result = text
        if let scheme = result.range(of: "://"), let at = result[scheme.upperBound...].firstIndex(of: "@") {
            let userInfo = result[scheme.upperBound..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                result.replaceSubrange(result.index(after: colon)..<at, with: "***")
            }
        }
        // `password=` in a keyword string or in a URL query.
        var output = ""
        var rest = Substring(result)
        while let range = rest.range(of: "password=") {
            output += rest[..<range.upperBound]
            output += "***"
            rest = rest[range.upperBound...]
            let end = rest.firstIndex { $0 == " " || $0 == "&" } ?? rest.endIndex
            rest = rest[end...]
        }
        return output + rest
    }
}

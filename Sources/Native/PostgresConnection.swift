import CLibPQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libpq connection. Not thread-safe: a pool hands it to one caller at a time.
///
/// Queries use libpq's asynchronous calls and `poll(2)` so that a server that stops answering
/// (a dropped network, a chaos proxy holding bytes) costs at most `queryTimeout`, after which the
/// connection is closed and marked broken.
public final class PostgresConnection: DatabaseConnection {
    private let handle: OpaquePointer
    private let queryTimeout: Double
    /// Server-side prepared statements by SQL text, so repeated queries skip parsing and planning.
    private var prepared: [String: String] = [:]
    /// Statements beyond this many run unprepared (one-off SQL, such as odd-sized INSERT batches).
    private static let maxPrepared = 32
    public private(set) var isBroken = false
    public let localAddress: String?

    /// Connects with a URL (`postgres://…`) or a keyword string (`host=… dbname=…`).
    public init(conninfo: String, connectTimeout: Double, queryTimeout: Double) throws {
        // expand_dbname=1 makes libpq read `dbname` as a full connection string; the keywords
        // after it override what the string says about timeouts and keepalives.
        let timeout = String(max(2, Int(connectTimeout.rounded(.up))))
        let userTimeoutMillis = String(Int(max(1, queryTimeout) * 1000))
        let pairs: [(String, String)] = [
            ("dbname", conninfo),
            ("connect_timeout", timeout),
            ("application_name", "rickmorty-api"),
            ("keepalives", "1"),
            ("keepalives_idle", "5"),
            ("keepalives_interval", "2"),
            ("keepalives_count", "2"),
            ("tcp_user_timeout", userTimeoutMillis),
        ]
        let connection = Self.withCStrings(pairs.map(\.0)) { keys in
            Self.withCStrings(pairs.map(\.1)) { values in
                PQconnectdbParams(keys, values, 1)
            }
        }
        guard let connection else {
            throw DatabaseError(kind: .connectFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection))
            PQfinish(connection)
            throw DatabaseError(kind: Self.connectKind(message), message: Self.trim(message))
        }
        self.handle = connection
        self.queryTimeout = queryTimeout
        self.localAddress = Self.localAddress(of: PQsocket(connection))
        guard PQsetnonblocking(connection, 1) == 0 else {
            PQfinish(connection)
            throw DatabaseError(kind: .other, message: "cannot switch the connection to non-blocking mode")
        }
    }

    deinit {
        PQfinish(self.handle)
    }

    /// `address:port` of a TCP socket's own end, or nil (a Unix socket, or no socket).
    private static func localAddress(of socket: Int32) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard socket >= 0, named == 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        func printed(_ family: Int32, _ address: UnsafeRawPointer) -> String {
            inet_ntop(family, address, &text, socklen_t(text.count))
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        switch Int32(storage.ss_family) {
        case AF_INET:
            var address = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
            }
            return "\(printed(AF_INET, &address.sin_addr)):\(UInt16(bigEndian: address.sin_port))"
        case AF_INET6:
            var address = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
            }
            return "[\(printed(AF_INET6, &address.sin6_addr))]:\(UInt16(bigEndian: address.sin6_port))"
        default:
            return nil
        }
    }

    public func execute(_ sql: String) throws {
        try self.run(sql, [], useParameters: false) { _ in }
    }

    public func query(
        _ sql: String,
        _ parameters: [DatabaseValue],
        eachRow: (DatabaseRow) throws -> Void
    ) throws {
        try self.run(sql, parameters, useParameters: true, eachRow: eachRow)
    }

    /// Several queries in one round trip: each is sent with a Sync of its own (libpq's pipeline
    /// mode), so one that fails leaves the others' results alone, then the answers are read in
    /// order. The whole batch is bounded by the query timeout. A connection lost or timed out
    /// midway fails every query whose answer had not been read.
    public func run(_ queries: [DatabaseQuery]) {
        guard queries.count > 1, !self.isBroken else {
            for query in queries { query.run(on: self) }
            return
        }
        var told = [Bool](repeating: false, count: queries.count)
        func tell(_ index: Int, _ outcome: Result<Void, any Error>) {
            told[index] = true
            queries[index].done(outcome)
        }
        var pipelined: [(index: Int, statement: String)] = []
        let deadline = Self.now() + self.queryTimeout
        do {
            // Statements are prepared before the pipeline starts: a prepare is a round trip of its
            // own. One that cannot be prepared fails (or, past the statement cache, runs) alone.
            for (index, query) in queries.enumerated() {
                do {
                    let count = query.parameters.count
                    if let name = try self.preparedName(for: query.sql, parameterCount: count, deadline: deadline) {
                        pipelined.append((index, name))
                    } else {
                        tell(index, Result { try self.query(query.sql, query.parameters, eachRow: query.eachRow) })
                    }
                } catch {
                    if self.isBroken { throw error }
                    tell(index, .failure(error))
                }
            }
            guard !pipelined.isEmpty else { return }
            guard PQenterPipelineMode(self.handle) == 1 else { throw self.connectionError() }
            defer { _ = PQexitPipelineMode(self.handle) }
            for (index, name) in pipelined {
                let texts: [String?] = queries[index].parameters.map { $0.text }
                let sent = Self.withOptionalCStrings(texts) { values in
                    PQsendQueryPrepared(self.handle, name, Int32(texts.count), values, nil, nil, 0)
                }
                guard sent == 1, PQpipelineSync(self.handle) == 1 else { throw self.connectionError() }
            }
            try self.flush(until: deadline)
            for (index, _) in pipelined {
                tell(index, try self.collectPipelined(until: deadline, eachRow: queries[index].eachRow))
            }
        } catch {
            self.isBroken = true  // Its place in the pipeline is unknown: close rather than reuse.
            for index in queries.indices where !told[index] { queries[index].done(.failure(error)) }
        }
    }

    /// One query's answer in pipeline mode: its result, the empty result that ends it, then the
    /// Sync's `PIPELINE_SYNC`. Returns the query's outcome; throws only when the connection fails.
    private func collectPipelined(
        until deadline: Double,
        eachRow: (DatabaseRow) throws -> Void
    ) throws -> Result<Void, any Error> {
        var outcome: Result<Void, any Error> = .success(())
        while true {
            while PQisBusy(self.handle) == 1 {
                try self.wait(events: Int16(POLLIN), until: deadline)
                if PQconsumeInput(self.handle) == 0 {
                    let lost = self.connectionError()
                    guard case .failure(let error as DatabaseError) = outcome else { throw lost }
                    // A FATAL error (57P01 admin shutdown…) comes just before the close: keep its SQLSTATE.
                    throw DatabaseError(kind: lost.kind, sqlState: error.sqlState, message: error.message)
                }
            }
            guard let result = PQgetResult(self.handle) else { continue }  // the end of the query's results
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_PIPELINE_SYNC:
                return outcome
            case PGRES_TUPLES_OK:
                guard case .success = outcome else { continue }
                let columns = Int(PQnfields(result))
                do {
                    for row in 0..<PQntuples(result) {
                        try eachRow(DatabaseRow(source: .postgres(result, row), count: columns))
                    }
                } catch {
                    outcome = .failure(error)
                }
            case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                continue
            default:
                if case .success = outcome { outcome = .failure(self.resultError(result)) }
            }
        }
    }

    // MARK: - Sending and receiving

    private func run(
        _ sql: String,
        _ parameters: [DatabaseValue],
        useParameters: Bool,
        eachRow: (DatabaseRow) throws -> Void
    ) throws {
        guard !self.isBroken else {
            throw DatabaseError(kind: .connectionLost, message: "connection is closed")
        }
        let deadline = Self.now() + self.queryTimeout
        let sent: Int32
        if useParameters {
            let texts: [String?] = parameters.map { $0.text }
            if let name = try self.preparedName(for: sql, parameterCount: texts.count, deadline: deadline) {
                sent = Self.withOptionalCStrings(texts) { values in
                    PQsendQueryPrepared(self.handle, name, Int32(texts.count), values, nil, nil, 0)
                }
            } else {
                sent = Self.withOptionalCStrings(texts) { values in
                    PQsendQueryParams(self.handle, sql, Int32(texts.count), nil, values, nil, nil, 0)
                }
            }
        } else {
            sent = PQsendQuery(self.handle, sql)
        }
        guard sent == 1 else { throw self.connectionError() }
        try self.flush(until: deadline)
        try self.collectResults(until: deadline, eachRow: eachRow)
    }

    /// The name of a prepared statement for `sql`, preparing it on first use; nil once the
    /// cache is full.
    private func preparedName(for sql: String, parameterCount: Int, deadline: Double) throws -> String? {
        if let name = self.prepared[sql] { return name }
        guard self.prepared.count < Self.maxPrepared else { return nil }
        let name = "rm_\(self.prepared.count + 1)"
        guard PQsendPrepare(self.handle, name, sql, Int32(parameterCount), nil) == 1 else {
            throw self.connectionError()
        }
        try self.flush(until: deadline)
        try self.collectResults(until: deadline) { _ in }
        self.prepared[sql] = name
        return name
    }

    private func flush(until deadline: Double) throws {
        while true {
            let rc = PQflush(self.handle)
            if rc == 0 { return }
            if rc < 0 { throw self.connectionError() }
            try self.wait(events: Int16(POLLOUT | POLLIN), until: deadline)
            if PQconsumeInput(self.handle) == 0 { throw self.connectionError() }
        }
    }

    private func collectResults(until deadline: Double, eachRow: (DatabaseRow) throws -> Void) throws {
        var failure: DatabaseError?
        var rowFailure: (any Error)?
        while true {
            while PQisBusy(self.handle) == 1 {
                try self.wait(events: Int16(POLLIN), until: deadline)
                if PQconsumeInput(self.handle) == 0 {
                    // A FATAL error (57P01 admin shutdown…) comes just before the close: keep its SQLSTATE.
                    let lost = self.connectionError()
                    throw failure.map { DatabaseError(kind: lost.kind, sqlState: $0.sqlState, message: $0.message) }
                        ?? lost
                }
            }
            guard let result = PQgetResult(self.handle) else { break }
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_TUPLES_OK where failure == nil && rowFailure == nil:
                let columns = Int(PQnfields(result))
                do {
                    for row in 0..<PQntuples(result) {
                        try eachRow(DatabaseRow(source: .postgres(result, row), count: columns))
                    }
                } catch {
                    rowFailure = error  // Thrown once libpq has no more results to give.
                }
            case PGRES_TUPLES_OK:
                continue
            case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                continue
            default:
                // Keep reading until libpq returns nil so the connection is ready for reuse.
                if failure == nil { failure = self.resultError(result) }
            }
        }
        if PQstatus(self.handle) != CONNECTION_OK {
            self.isBroken = true
            throw failure.map { DatabaseError(kind: .connectionLost, sqlState: $0.sqlState, message: $0.message) }
                ?? self.connectionError()
        }
        if let failure { throw failure }
        if let rowFailure { throw rowFailure }
    }

    private func wait(events: Int16, until deadline: Double) throws {
        let socket = PQsocket(self.handle)
        guard socket >= 0 else { throw self.connectionError() }
        while true {
            let remaining = deadline - Self.now()
            if remaining <= 0 {
                // The server's state is unknown: close rather than reuse.
                self.isBroken = true
                throw DatabaseError(kind: .timedOut, message: "no answer from PostgreSQL within \(self.queryTimeout)s")
            }
            var descriptor = pollfd(fd: socket, events: events, revents: 0)
            let rc = poll(&descriptor, 1, Int32(min(remaining * 1000, 60_000).rounded(.up)))
            if rc > 0 { return }
            if rc < 0 && errno != EINTR { throw self.connectionError() }
        }
    }

    // Column readers for DatabaseRow; valid until the result is cleared.

    static func isNull(_ result: OpaquePointer, _ row: Int32, _ column: Int) -> Bool {
        PQgetisnull(result, row, Int32(column)) == 1
    }

    static func text(_ result: OpaquePointer, _ row: Int32, _ column: Int) -> UnsafeRawBufferPointer? {
        guard PQgetisnull(result, row, Int32(column)) == 0, let bytes = PQgetvalue(result, row, Int32(column)) else {
            return nil
        }
        return UnsafeRawBufferPointer(start: bytes, count: Int(PQgetlength(result, row, Int32(column))))
    }

    // MARK: - Errors

    private func connectionError() -> DatabaseError {
        let message = Self.trim(String(cString: PQerrorMessage(self.handle)))
        if PQstatus(self.handle) != CONNECTION_OK || message.contains("server closed the connection") {
            self.isBroken = true
            return DatabaseError(kind: .connectionLost, message: message)
        }
        return DatabaseError(kind: .other, message: message)
    }

    private func resultError(_ result: OpaquePointer) -> DatabaseError {
        let message = Self.trim(String(cString: PQresultErrorMessage(result)))
        let field = PQresultErrorField(result, Int32(UInt8(ascii: "C")))  // PG_DIAG_SQLSTATE
        let sqlState = field.map { String(cString: $0) }
        return DatabaseError(kind: Self.kind(sqlState: sqlState), sqlState: sqlState, message: message)
    }

    /// Maps a SQLSTATE to a kind (PostgreSQL manual, appendix A).
    static func kind(sqlState: String?) -> DatabaseError.Kind {
        guard let sqlState else { return .other }
        switch sqlState {
        case "53300", "53000", "53100", "53200": return .tooManyConnections
        case "57P01", "57P02", "57P03": return .serverShutdown
        case "57014": return .timedOut
        case "25006": return .readOnly
        case "40001", "40P01": return .serialization
        case "55P03": return .busy
        default: break
        }
        if sqlState.hasPrefix("08") { return .connectionLost }
        if sqlState.hasPrefix("23") || sqlState.hasPrefix("22") { return .constraint }
        return .other
    }

    private static func connectKind(_ message: String) -> DatabaseError.Kind {
        if message.contains("too many") || message.contains("remaining connection slots") { return .tooManyConnections }
        if message.contains("shutting down") || message.contains("starting up") { return .serverShutdown }
        if message.contains("timeout expired") { return .timedOut }
        return .connectFailed
    }

    private static func trim(_ message: String) -> String {
        message.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    private static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    // MARK: - C strings

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        withOptionalCStrings(strings) { body($0) }
    }

    private static func withOptionalCStrings<R>(
        _ strings: [String?],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R
    ) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
        defer { for copy in copies { free(copy) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
        pointers.append(nil)
        return pointers.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { preconditionFailure("never empty: it ends with nil") }
            return body(base)
        }
    }
}

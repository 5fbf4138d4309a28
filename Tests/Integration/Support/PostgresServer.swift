import Foundation
import Native
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL cluster on a free loopback port, made with the local server binaries.
/// As root it runs as the `postgres` user, since the server refuses to run as root.
final class PostgresServer: @unchecked Sendable {
    let directory: String
    let port: Int
    private let binaries: String

    var url: String { "postgres://rm@127.0.0.1:\(self.port)/postgres" }

    /// Starts a new cluster; throws when no PostgreSQL server binaries are installed.
    static func start() throws -> PostgresServer {
        let server = try PostgresServer()
        try server.initialize()
        try server.startServer()
        return server
    }

    private init() throws {
        guard let bin = Self.findBinaries() else {
            throw HarnessError("no PostgreSQL server binaries under /usr/lib/postgresql")
        }
        self.binaries = bin
        self.port = try freePort()
        self.directory = NSTemporaryDirectory() + "rm-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        if getuid() == 0 {
            guard let user = getpwnam("postgres") else {
                throw HarnessError("running as root but there is no postgres user")
            }
            chown(self.directory, user.pointee.pw_uid, user.pointee.pw_gid)
        }
    }

    private static func findBinaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.compactMap(Int.init).sorted().reversed().map { "\(root)/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }
    }

    private func initialize() throws {
        try self.run(
            "initdb",
            ["-D", self.directory, "-U", "rm", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"]
        )
    }

    /// Starts (or restarts) the server on the same port and waits until it accepts connections.
    func startServer() throws {
        let options =
            "-p \(self.port) -k \(self.directory) -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=60"
        try self.run(
            "pg_ctl",
            ["-D", self.directory, "-l", "\(self.directory)/server.log", "-o", options, "-w", "-t", "60", "start"]
        )
    }

    /// Stops the server; `immediate` is a crash-like stop that drops every connection at once.
    func stopServer(immediate: Bool = false) throws {
        try self.run(
            "pg_ctl",
            ["-D", self.directory, "-m", immediate ? "immediate" : "fast", "-w", "-t", "60", "stop"]
        )
    }

    /// Stops the server and removes the cluster.
    func destroy() {
        try? self.stopServer(immediate: true)
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// A new, empty database on this server; returns its URL.
    func createDatabase() throws -> String {
        let name = "t_\(UUID().uuidString.prefix(8).lowercased())"
        _ = try self.query("CREATE DATABASE \(name)")
        return "postgres://rm@127.0.0.1:\(self.port)/\(name)"
    }

    /// Whether one of App's connections to `url` is waiting on a lock (App names its connections
    /// `rickmorty-api`).
    func appIsWaitingOnLock(in url: String) -> Bool {
        let rows = try? self.query(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rickmorty-api' AND wait_event_type = 'Lock'",
            url: url
        )
        return (rows?.first?.first?.int ?? 0) > 0
    }

    /// Runs SQL on `url` (default: the `postgres` database) over a fresh libpq connection.
    func query(_ sql: String, url: String? = nil) throws -> [[DatabaseValue]] {
        let connection = try PostgresConnection(conninfo: url ?? self.url, connectTimeout: 5, queryTimeout: 30)
        return try connection.query(sql, [])
    }

    private func run(_ tool: String, _ arguments: [String]) throws {
        let command: [String] =
            getuid() == 0
            ? ["/usr/sbin/runuser", "-u", "postgres", "--", "\(self.binaries)/\(tool)"] + arguments
            : ["\(self.binaries)/\(tool)"] + arguments
        let (status, output) = try runCommand(command)
        guard status == 0 else { throw HarnessError("\(tool) failed (\(status)): \(output)") }
    }
}

/// Runs `body` with a fresh cluster and removes it afterwards, whatever happens.
func withPostgres<T>(_ body: (PostgresServer) async throws -> T) async throws -> T {
    let server = try PostgresServer.start()
    do {
        let result = try await body(server)
        server.destroy()
        return result
    } catch {
        server.destroy()
        throw error
    }
}

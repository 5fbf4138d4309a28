import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The lab's PostgreSQL cluster under `.lab/postgres`, made with the local server binaries and
/// kept between runs. As root, the server runs as the `postgres` user (it refuses to run as root).
struct PostgresCluster {
    let binaries: String
    let directory: String
    let port: Int

    /// The newest `/usr/lib/postgresql/N/bin` with `initdb`, or nil when none is installed.
    static func findBinaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.compactMap(Int.init).sorted().reversed().map { "\(root)/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }
    }

    var url: String { "postgres://rm@127.0.0.1:\(self.port)/postgres" }

    /// Creates the cluster if it does not exist yet, then starts it and waits until it accepts
    /// connections.
    func start(log: String) throws {
        let fresh = !FileManager.default.fileExists(atPath: "\(self.directory)/PG_VERSION")
        if fresh {
            try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
            try self.handOver(self.directory)
            try self.checkReachable()
            try self.run("initdb", ["-D", self.directory, "-U", "rm", "-A", "trust", "-E", "UTF8", "--no-locale"])
        }
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        try self.handOver(log)
        let options = "-p \(self.port) -k \(self.directory) -c listen_addresses=127.0.0.1"
        try self.run("pg_ctl", ["-D", self.directory, "-l", log, "-o", options, "-w", "-t", "60", "start"])
    }

    /// Stops the server if it runs (fast shutdown: open transactions roll back).
    func stop() {
        _ = try? self.run("pg_ctl", ["-D", self.directory, "-m", "fast", "-w", "-t", "60", "stop"])
    }

    /// Whether a server runs on this data directory (pg_ctl status).
    var isRunning: Bool {
        (try? self.run("pg_ctl", ["-D", self.directory, "status"])) != nil
    }

    private var asRoot: Bool { getuid() == 0 }

    /// As root, gives a path to the postgres user.
    private func handOver(_ path: String) throws {
        guard self.asRoot else { return }
        guard let user = getpwnam("postgres") else {
            throw LabError("running as root, but there is no postgres user to run PostgreSQL as")
        }
        chown(path, user.pointee.pw_uid, user.pointee.pw_gid)
    }

    /// As root, PostgreSQL runs as `postgres`, which needs to search every folder above the cluster
    /// (a checkout under a 0700 home folder is not): say so instead of initdb's "Permission denied".
    private func checkReachable() throws {
        guard self.asRoot else { return }
        let (status, _) = try ChildProcess.run(["runuser", "-u", "postgres", "--", "test", "-w", self.directory])
        guard status == 0 else {
            throw LabError(
                "PostgreSQL runs as the postgres user, who cannot reach \(self.directory) (a folder above it is not searchable by others): pass --state-dir under /tmp, or --sqlite"
            )
        }
    }

    @discardableResult
    private func run(_ tool: String, _ arguments: [String]) throws -> String {
        let command =
            (self.asRoot ? ["runuser", "-u", "postgres", "--"] : []) + ["\(self.binaries)/\(tool)"] + arguments
        let (status, output) = try ChildProcess.run(command)
        guard status == 0 else {
            throw LabError(
                "\(tool) failed (\(status)): \(output.split(separator: "\n").suffix(3).joined(separator: " | "))"
            )
        }
        return output
    }
}

import Foundation
import Native
import SystemSupport

#if canImport(Glibc)
import Glibc
#endif

/// What `lab up` started, written to `<state>/lab.json` once the App is ready: the URLs for
/// tests and humans, and the processes `lab down` may stop.
struct LabRecord: Codable {
    struct Process: Codable {
        var name: String
        var pid: Int32
        var executable: String
    }

    /// How an App the lab started ended (it starts a new one, as a Deployment would).
    struct AppExit: Codable {
        var pid: Int32
        var status: Int32
    }

    var supervisor: Int32
    var app: String
    var chaos: String
    var fakeUpstream: String
    var database: String
    var databaseURL: String
    var postgresData: String?
    var postgresBinaries: String?
    var processes: [Process]
    /// Every App that exited while the lab ran, oldest first; absent until one did.
    var appExits: [AppExit]?

    static func path(in directory: String) -> String { "\(directory)/lab.json" }

    static func load(from directory: String) -> LabRecord? {
        guard let data = FileManager.default.contents(atPath: Self.path(in: directory)) else { return nil }
        return try? JSONDecoder().decode(LabRecord.self, from: data)
    }
}

/// Set by SIGINT/SIGTERM; the supervisor loop polls it.
nonisolated(unsafe) private var stopRequested: sig_atomic_t = 0

/// Starts the lab's pieces in dependency order, supervises them, and stops them in reverse.
final class LabStack {
    private let options: Up
    private let directory: String
    private let binaries: String
    private var children: [(process: ChildProcess, executable: String)] = []
    private var postgres: PostgresCluster?
    private let http = CurlHTTPClient()
    /// What was written to lab.json; rewritten when the App is started again.
    private var record: LabRecord?
    /// The App's environment, to start it again with when it exits.
    private var appEnvironment: [String: String] = [:]
    /// The App's log (`logs/app.log`, which scenario runs read), copied to the terminal as it grows.
    private var appLog: LogFollower?

    init(options: Up) throws {
        self.options = options
        self.directory = options.state.directory
        // The other programs are built next to this one (`swift build` puts them together).
        let me =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        self.binaries = URL(fileURLWithPath: me).deletingLastPathComponent().path
    }

    func run() throws {
        if let record = LabRecord.load(from: self.directory), kill(record.supervisor, 0) == 0 {
            throw LabError(
                "a lab is already running from \(self.directory) (pid \(record.supervisor)); stop it with `lab down`"
            )
        }
        for program in ["rickmorty-api", "fake-upstream", "chaos"] {
            guard FileManager.default.isExecutableFile(atPath: "\(self.binaries)/\(program)") else {
                throw LabError(
                    "\(self.binaries)/\(program) is missing: build everything first (`swift build`, or use scripts/lab)"
                )
            }
        }
        var ports = try self.choosePorts()
        try FileManager.default.createDirectory(atPath: "\(self.directory)/logs", withIntermediateDirectories: true)

        signal(SIGINT) { _ in stopRequested = 1 }
        signal(SIGTERM) { _ in stopRequested = 1 }
        // Whoever started the lab may have blocked these; Ctrl-C and `lab down` must get through.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        sigprocmask(SIG_UNBLOCK, &stopSignals, nil)
        do {
            let record = try self.start(&ports)
            self.record = record
            try self.write(record)
            self.announce(record, ports: ports)
            self.supervise()
        } catch {
            self.stopAll()
            throw error
        }
        self.stopAll()
        try? FileManager.default.removeItem(atPath: LabRecord.path(in: self.directory))
        say("lab: stopped")
    }

    struct Ports {
        var app, chaos, fakeUpstream, postgres, upstreamProxy, postgresProxy: Int
    }

    /// The ports asked for (0 = any free one), each checked to be free; a busy one is named.
    private func choosePorts() throws -> Ports {
        func pick(_ port: Int, _ flag: String) throws -> Int {
            if port == 0 { return try LocalPorts.free() }
            guard LocalPorts.isFree(port) else {
                throw LabError(
                    "port \(port) (\(flag)) is in use: free it or pass another port, e.g. \(flag) 0 for any free one"
                )
            }
            return port
        }
        return Ports(
            app: try pick(self.options.appPort, "--app-port"),
            chaos: try pick(self.options.chaosPort, "--chaos-port"),
            fakeUpstream: try pick(self.options.fakeUpstreamPort, "--fake-upstream-port"),
            postgres: try pick(self.options.postgresPort, "--postgres-port"),
            upstreamProxy: try pick(self.options.upstreamProxyPort, "--upstream-proxy-port"),
            postgresProxy: try pick(self.options.postgresProxyPort, "--postgres-proxy-port")
        )
    }

    /// A port asked for as 0 is picked again right before the program that binds it starts:
    /// "free" only holds for a moment, and the steps before can take seconds.
    private func refresh(_ port: inout Int, requested: Int) throws {
        if requested == 0 { port = try LocalPorts.free() }
    }

    private func start(_ ports: inout Ports) throws -> LabRecord {
        let logs = "\(self.directory)/logs"
        var databaseURL: String
        var database = "postgresql"
        if !self.options.sqlite, let binaries = PostgresCluster.findBinaries() {
            try self.refresh(&ports.postgres, requested: self.options.postgresPort)
            let cluster = PostgresCluster(
                binaries: binaries,
                directory: "\(self.directory)/postgres",
                port: ports.postgres
            )
            say("lab: PostgreSQL (\(binaries)) on 127.0.0.1:\(ports.postgres), data in \(cluster.directory)")
            try cluster.start(log: "\(logs)/postgres.log")
            self.postgres = cluster
            databaseURL = ""  // through the postgres proxy, once its port is final (below)
        } else {
            database = "sqlite"
            databaseURL = "sqlite:\(self.directory)/rickmorty.sqlite"
            say(
                self.options.sqlite
                    ? "lab: SQLite at \(self.directory)/rickmorty.sqlite (--sqlite); the postgres proxy has nothing behind it"
                    : "lab: no PostgreSQL server binaries (apt-get install postgresql): using SQLite at \(self.directory)/rickmorty.sqlite; database faults have nothing to act on"
            )
        }

        try self.refresh(&ports.fakeUpstream, requested: self.options.fakeUpstreamPort)
        let fakeUpstream = "http://127.0.0.1:\(ports.fakeUpstream)"
        try self.launch(
            "fake-upstream",
            [
                "--port", String(ports.fakeUpstream), "--characters", String(self.options.characters), "--seed",
                String(self.options.seed),
            ],
            log: "\(logs)/fake-upstream.log"
        )
        try self.waitFor("\(fakeUpstream)/api", name: "fake-upstream", seconds: 30)

        try self.refresh(&ports.chaos, requested: self.options.chaosPort)
        try self.refresh(&ports.upstreamProxy, requested: self.options.upstreamProxyPort)
        try self.refresh(&ports.postgresProxy, requested: self.options.postgresProxyPort)
        if database == "postgresql" { databaseURL = "postgres://rm@127.0.0.1:\(ports.postgresProxy)/postgres" }
        let chaos = "http://127.0.0.1:\(ports.chaos)"
        let proxies = """
            [{"name":"upstream","listen":"127.0.0.1:\(ports.upstreamProxy)","upstream":"127.0.0.1:\(ports.fakeUpstream)"},
             {"name":"postgres","listen":"127.0.0.1:\(ports.postgresProxy)","upstream":"127.0.0.1:\(ports.postgres)"}]
            """
        try proxies.write(toFile: "\(self.directory)/chaos.json", atomically: true, encoding: .utf8)
        try self.launch(
            "chaos",
            [
                "--port", String(ports.chaos), "--config", "\(self.directory)/chaos.json", "--seed",
                String(self.options.seed),
            ],
            log: "\(logs)/chaos.log"
        )
        try self.waitFor("\(chaos)/version", name: "chaos", seconds: 30)

        // Lab defaults make refreshes and probes observable within seconds; the caller's
        // environment overrides them, and every other App variable passes through.
        var environment = [
            "REFRESH_INTERVAL": "10", "UPSTREAM_PROBE_INTERVAL": "2", "MAX_RETRY_AFTER": "5", "REQUEST_TIMEOUT": "2",
        ].filter { ProcessInfo.processInfo.environment[$0.key] == nil }
        try self.refresh(&ports.app, requested: self.options.appPort)
        environment["DATABASE_URL"] = databaseURL
        environment["UPSTREAM_BASE_URL"] = "http://127.0.0.1:\(ports.upstreamProxy)/api"
        environment["HOST"] = "127.0.0.1"
        environment["PORT"] = String(ports.app)
        let app = "http://127.0.0.1:\(ports.app)"
        self.appEnvironment = environment
        self.appLog = LogFollower(path: "\(logs)/app.log")
        try self.launch("rickmorty-api", [], environment: environment, log: "\(logs)/app.log")
        try self.waitFor("\(app)/readyz", name: "rickmorty-api", seconds: 90)

        return LabRecord(
            supervisor: getpid(),
            app: app,
            chaos: chaos,
            fakeUpstream: fakeUpstream,
            database: database,
            databaseURL: databaseURL,
            postgresData: self.postgres?.directory,
            postgresBinaries: self.postgres?.binaries,
            processes: self.running
        )
    }

    private func launch(_ name: String, _ arguments: [String], environment: [String: String] = [:], log: String?) throws
    {
        let executable = "\(self.binaries)/\(name)"
        let child = try ChildProcess.start(name, [executable] + arguments, environment: environment, log: log)
        self.children.append((child, executable))
    }

    /// Polls `url` until it answers 200; fails early when the program exits.
    private func waitFor(_ url: String, name: String, seconds: Double) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if stopRequested != 0 { throw LabError("interrupted while waiting for \(name)") }
            if let child = self.children.first(where: { $0.process.name == name }), let status = child.process.exited()
            {
                self.children.removeAll { $0.process.pid == child.process.pid }
                throw LabError("\(name) exited with status \(status) before it was ready (see \(self.directory)/logs)")
            }
            if (try? self.http.get(url, timeout: 1))?.status == 200 { return }
            self.appLog?.copyNew()
            usleep(100_000)
        }
        throw LabError("\(name) did not answer 200 on \(url) within \(Int(seconds)) s")
    }

    private func write(_ record: LabRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Atomic: the E2E suite and check-quickstart.sh poll for this file and read it at once.
        try encoder.encode(record).write(to: URL(fileURLWithPath: LabRecord.path(in: self.directory)), options: .atomic)
    }

    private func announce(_ record: LabRecord, ports: Ports) {
        say(
            """

            lab: ready (\(record.database))
              App            \(record.app)          (/characters /healthcheck /metrics /docs)
              Chaos API      \(record.chaos)          (proxies: upstream 127.0.0.1:\(ports.upstreamProxy), postgres 127.0.0.1:\(ports.postgresProxy))
              FakeUpstream   \(record.fakeUpstream)/api  (admin: \(record.fakeUpstream)/__admin/behaviors)
              Database       \(record.databaseURL)
              State, logs    \(self.directory)

            Try:
              curl -s '\(record.app)/characters?page=1&page_size=5'
              curl -s -X POST \(record.chaos)/proxies/postgres -d '{"enabled":false}'   # cut the database
              curl -s -X POST \(record.chaos)/proxies/postgres -d '{"enabled":true}'    # restore it

            App logs follow; Ctrl-C (or `lab down`) stops everything.

            """
        )
    }

    /// Waits for Ctrl-C / SIGTERM; a child that exits on its own is reported, the rest keep running.
    /// An App that exits is started again, as a Deployment's pod would be (lab.json then lists
    /// the new pid and the old one's exit): at once when it had run 10 s or more, else after a
    /// pause that doubles up to 30 s, so a crash loop backs off.
    private func supervise() {
        var restartAt: Date?
        var pause = 0.0
        var appStarted = Date()
        while stopRequested == 0 {
            for child in self.children {
                guard let status = child.process.exited() else { continue }
                say("lab: \(child.process.name) exited with status \(status)")
                self.children.removeAll { $0.process.pid == child.process.pid }
                guard child.process.name == "rickmorty-api" else { continue }
                let exits = self.record?.appExits ?? []
                self.record?.appExits = exits + [.init(pid: child.process.pid, status: status)]
                self.rewriteRecord()
                pause = Date().timeIntervalSince(appStarted) >= 10 ? 0 : min(30, max(1, pause * 2))
                restartAt = Date().addingTimeInterval(pause)
                if pause > 0 { say("lab: starting rickmorty-api again in \(Int(pause)) s") }
            }
            if let at = restartAt, Date() >= at {
                restartAt = nil
                do {
                    try self.launch(
                        "rickmorty-api",
                        [],
                        environment: self.appEnvironment,
                        log: "\(self.directory)/logs/app.log"
                    )
                    appStarted = Date()
                    say("lab: started rickmorty-api again (pid \(self.children.last?.process.pid ?? 0))")
                } catch {
                    say("lab: \(error)")
                    restartAt = Date().addingTimeInterval(max(1, pause))
                }
                self.rewriteRecord()
            }
            self.appLog?.copyNew()
            usleep(100_000)
        }
    }

    /// The processes running now, as lab.json lists them.
    private var running: [LabRecord.Process] {
        self.children.map { .init(name: $0.process.name, pid: $0.process.pid, executable: $0.executable) }
    }

    /// lab.json with the processes running now (`lab down` and scenario runs read it).
    private func rewriteRecord() {
        guard var record = self.record else { return }
        record.processes = self.running
        self.record = record
        do { try self.write(record) } catch { say("lab: cannot rewrite lab.json: \(error)") }
    }

    /// Stops what this lab started, newest first: App (graceful), chaos, fake-upstream, PostgreSQL.
    private func stopAll() {
        for child in self.children.reversed() {
            let status = child.process.stop(grace: child.process.name == "rickmorty-api" ? 20 : 5)
            say("lab: stopped \(child.process.name) (status \(status))")
        }
        self.children.removeAll()
        self.appLog?.copyNew()
        if let postgres = self.postgres {
            postgres.stop()
            say("lab: stopped PostgreSQL")
        }
    }

    // MARK: - lab down

    /// Stops the lab recorded in `directory`: asks its supervisor to stop; if the supervisor is
    /// gone, stops the recorded processes that are still the programs it started, and PostgreSQL.
    static func down(stateDirectory directory: String) throws {
        guard let record = LabRecord.load(from: directory) else {
            throw LabError("no lab is recorded in \(directory) (nothing to stop)")
        }
        if kill(record.supervisor, 0) == 0 {
            kill(record.supervisor, SIGTERM)
            let deadline = Date().addingTimeInterval(60)
            while kill(record.supervisor, 0) == 0 && Date() < deadline { usleep(100_000) }
            guard kill(record.supervisor, 0) != 0 else {
                throw LabError("the lab (pid \(record.supervisor)) did not stop within 60 s")
            }
            say("lab: stopped the lab (pid \(record.supervisor))")
            return
        }
        for process in record.processes.reversed() {
            // Only a process that is still the program the lab started (pids get reused).
            let running = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(process.pid)/exe")
            guard running == process.executable else { continue }
            kill(process.pid, SIGTERM)
            say("lab: stopped \(process.name) (pid \(process.pid))")
        }
        if let data = record.postgresData, let binaries = record.postgresBinaries {
            let cluster = PostgresCluster(binaries: binaries, directory: data, port: 0)
            cluster.stop()
            say("lab: stopped PostgreSQL")
        }
        try? FileManager.default.removeItem(atPath: LabRecord.path(in: directory))
    }
}

/// One line (or block) to the terminal, unbuffered, so it interleaves in order with the App's
/// logs and reaches a supervising process reading a pipe or file at once.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

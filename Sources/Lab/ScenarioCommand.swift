import ArgumentParser
import Foundation
import ScenarioKit
import SystemSupport

#if canImport(Glibc)
import Glibc
#endif

/// `lab scenario list|run|check`: chaos experiments as files (`ops/scenarios/*.yaml`).
struct ScenarioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenario",
        abstract:
            "Run chaos scenarios from files and write reports (journal.json, junit.xml, summary.md, report.html).",
        subcommands: [List.self, Run.self, Check.self]
    )
}

/// Where scenario files and the alert rules are: given, or found from the working folder or
/// from the checkout this `lab` was built in.
struct ScenarioPaths: ParsableArguments {
    @Option(help: "Folder of scenario files (default: ops/scenarios of this checkout).") var scenariosDir: String?
    @Option(help: "Prometheus alert rules the alert expectations are replayed against.") var rules: String?

    /// `ops/…` under the working folder, else under the checkout two levels above the binary.
    private func find(_ relative: String) -> String {
        let here = FileManager.default.currentDirectoryPath + "/" + relative
        if FileManager.default.fileExists(atPath: here) { return here }
        let me =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let checkout = URL(fileURLWithPath: me).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let there = checkout.appendingPathComponent(relative).path
        return FileManager.default.fileExists(atPath: there) ? there : here
    }

    var directory: String { self.scenariosDir ?? self.find("ops/scenarios") }
    var rulesFile: String { self.rules ?? self.find("ops/alerts/rules.yaml") }

    /// A file path as given, or the file a scenario name (`database-cut`, `opt-in/soak`) stands for.
    func file(_ nameOrPath: String) -> String {
        if nameOrPath.hasSuffix(".yaml") || FileManager.default.fileExists(atPath: nameOrPath) { return nameOrPath }
        return "\(self.directory)/\(nameOrPath).yaml"
    }

    /// The catalogue's files: those the default runs take, then the opt-in ones (`opt-in/`).
    func allFiles(optIn: Bool = false) -> [String] {
        func files(in folder: String) -> [String] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return names.filter { $0.hasSuffix(".yaml") }.sorted().map { "\(folder)/\($0)" }
        }
        return files(in: self.directory) + (optIn ? files(in: "\(self.directory)/opt-in") : [])
    }
}

extension ScenarioCommand {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the scenarios in the catalogue.")
        @OptionGroup var paths: ScenarioPaths

        func run() throws {
            let files = self.paths.allFiles(optIn: true)
            guard !files.isEmpty else {
                say("lab: no scenario files in \(self.paths.directory)")
                throw ExitCode(2)
            }
            for file in files {
                do {
                    let scenario = try ScenarioParser.load(path: file)
                    let seconds = Format.number(scenario.duration)
                    let name = file.contains("/opt-in/") ? "opt-in/\(scenario.name)" : scenario.name
                    say(
                        "\(name.padding(toLength: 26, withPad: " ", startingAt: 0)) \(seconds.padding(toLength: 5, withPad: " ", startingAt: 0)) s  \(scenario.title)"
                    )
                } catch {
                    say("\(URL(fileURLWithPath: file).lastPathComponent): INVALID \(error)")
                }
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate scenario files without running them (exit 0 when all are valid, 2 otherwise)."
        )
        @OptionGroup var paths: ScenarioPaths
        @Argument(help: "Scenario names or files (default: every file in the catalogue, opt-in ones too).")
        var scenarios: [String] = []

        func run() throws {
            let rules: [ScenarioChecker.AlertRule]
            do { rules = try ScenarioChecker.alertRules(path: self.paths.rulesFile) } catch {
                say("lab: \(error)")
                throw ExitCode(2)
            }
            var invalid = 0
            for file in self.scenarios.isEmpty ? self.paths.allFiles(optIn: true) : self.scenarios.map(self.paths.file)
            {
                do {
                    let problems = ScenarioChecker.problems(try ScenarioParser.load(path: file), rules: rules)
                    for problem in problems { say(problem) }
                    if problems.isEmpty { say("ok   \(file)") } else { invalid += 1 }
                } catch {
                    say("\(error)")
                    invalid += 1
                }
            }
            if invalid > 0 { throw ExitCode(2) }
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Run scenarios; exit 0 when every expectation held, 1 when one failed, 2 when a scenario could not run.",
            discussion: """
                Without URLs, a lab of its own is started (free ports, throwaway state) and stopped \
                afterwards. With --app-url, --chaos-url and --fake-upstream-url, the scenarios run against \
                that system (a `lab up`, or a Kind cluster through port-forwards); --lab-state DIR \
                names a `lab up` on this machine instead, which `app` steps (signals to the App) need.
                """
        )
        @OptionGroup var paths: ScenarioPaths
        @Argument(help: "Scenario names (see `lab scenario list`) or files.") var scenarios: [String]
        @Option(help: "Folder for the reports (default: .lab/reports/<scenario>-<time>).") var reportDir: String?
        @Option(help: "Seed for the load mix and Chaos's decisions (default: the file's).") var seed: UInt64?
        @Flag(help: "Skip every fault step: every alert must stay silent and every SLO hold.") var control = false
        @Option(help: "The App's base URL.") var appURL: String?
        @Option(help: "Chaos's control API URL.") var chaosURL: String?
        @Option(help: "FakeUpstream's URL.") var fakeUpstreamURL: String?
        @Option(help: "Chaos's control API token (or CHAOS_TOKEN).") var chaosToken: String?
        @Option(
            help: ArgumentHelp(
                "State folder of a `lab up` on this machine: its URLs (unless given), and the App that `app` steps signal.",
                valueName: "dir"
            )
        )
        var labState: String?

        func validate() throws {
            let urls = [self.appURL, self.chaosURL, self.fakeUpstreamURL]
            guard urls.allSatisfy({ $0 == nil }) || urls.allSatisfy({ $0 != nil }) else {
                throw ValidationError("give all of --app-url, --chaos-url and --fake-upstream-url, or none")
            }
            for url in urls.compactMap({ $0 }) where !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                throw ValidationError("URLs must start with http:// or https://, got \(url)")
            }
        }

        func run() throws {
            Interruption.install()
            var loaded: [Scenario] = []
            for name in self.scenarios {
                do { loaded.append(try ScenarioParser.load(path: self.paths.file(name))) } catch {
                    say("lab: \(error)")
                    throw ExitCode(2)
                }
            }
            let ownLab: OwnLab?
            let target: Target
            do {
                let token = self.chaosToken ?? ProcessInfo.processInfo.environment["CHAOS_TOKEN"]
                let local = self.labState.map(LocalLab.init)
                if let app = self.appURL, let chaos = self.chaosURL, let fake = self.fakeUpstreamURL {
                    ownLab = nil
                    target = Target(app: app, chaos: chaos, fakeUpstream: fake, chaosToken: token, lab: local)
                } else if let state = self.labState {
                    guard let record = LabRecord.load(from: state) else {
                        throw LabError("no lab is recorded in \(state) (start one with `lab up --state-dir \(state)`)")
                    }
                    ownLab = nil
                    target = Target(
                        app: record.app,
                        chaos: record.chaos,
                        fakeUpstream: record.fakeUpstream,
                        chaosToken: token,
                        lab: local
                    )
                } else {
                    let lab = try OwnLab.start()
                    ownLab = lab
                    target = lab.target
                }
            } catch {
                say("lab: \(error)")
                throw ExitCode(2)
            }
            defer { ownLab?.stop() }
            let stamp = Self.stamp()
            var reports: [RunReport] = []
            for scenario in loaded {
                if let reason = Interruption.reason {
                    say("lab: \(reason): scenario \(scenario.name) and any after it not run")
                    break
                }
                let folderName = scenario.name + (self.control ? "-control" : "")
                let folder =
                    self.reportDir.map { loaded.count == 1 ? $0 : "\($0)/\(folderName)" }
                    ?? ".lab/reports/\(folderName)-\(stamp)"
                say(
                    "lab: scenario \(scenario.name)\(self.control ? " (--control)" : ""): \(scenario.title), \(Format.number(scenario.duration)) s against \(target.app)"
                )
                let work = NSTemporaryDirectory() + "rm-scenario-\(UUID().uuidString.prefix(8))"
                defer { try? FileManager.default.removeItem(atPath: work) }
                try? FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
                let options = ScenarioRunner.Options(
                    seed: self.seed,
                    control: self.control,
                    rules: self.paths.rulesFile,
                    workDirectory: work,
                    revision: Self.revision(),
                    progress: { say($0) }
                )
                let report = ScenarioRunner(scenario: scenario, target: target, options: options).run()
                do { try ReportWriter.write(report, to: folder) } catch {
                    say("lab: cannot write the reports to \(folder): \(error)")
                }
                say(ReportWriter.summary(report))
                say("lab: reports in \(folder) (open \(folder)/report.html)")
                reports.append(report)
            }
            if loaded.count > 1, let directory = self.reportDir {
                try? ReportWriter.junit(reports).write(
                    toFile: "\(directory)/junit.xml",
                    atomically: true,
                    encoding: .utf8
                )
                try? reports.map(ReportWriter.summary).joined(separator: "\n").write(
                    toFile: "\(directory)/summary.md",
                    atomically: true,
                    encoding: .utf8
                )
            }
            let code = Interruption.signal != nil ? 2 : reports.map(\.exitCode).max() ?? 0
            if code != 0 { throw ExitCode(code) }
        }

        static func stamp() -> String {
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyyMMdd-HHmmss"
            formatter.timeZone = TimeZone(identifier: "UTC")
            return formatter.string(from: Date())
        }

        /// The checkout's commit, when run from one.
        static func revision() -> String {
            guard let result = try? Spawn.run(["git", "rev-parse", "--short=12", "HEAD"]), result.status == 0 else {
                return "unknown"
            }
            return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}

/// A lab started for a scenario run: `lab up` on free ports with throwaway state, stopped after.
struct OwnLab {
    let target: Target
    let pid: pid_t
    let state: String

    static func start() throws -> OwnLab {
        let state = NSTemporaryDirectory() + "rm-scenario-lab-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let me =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let ports = [
            "--app-port", "--chaos-port", "--fake-upstream-port", "--postgres-port", "--upstream-proxy-port",
            "--postgres-proxy-port",
        ]
        say("lab: starting a lab of its own (state and logs in \(state))")
        let pid = try Spawn.start(
            [me, "up", "--state-dir", state] + ports.flatMap { [$0, "0"] },
            // Info, so the App's access lines name each request's database connections, by
            // which the report matches errors to the decisions made on those connections.
            environment: ["LOG_LEVEL": "info"],
            output: .append("\(state)/lab.log")
        )
        let deadline = Date().addingTimeInterval(180)
        while Date() < deadline {
            if let record = LabRecord.load(from: state) {
                return OwnLab(
                    target: Target(
                        app: record.app,
                        chaos: record.chaos,
                        fakeUpstream: record.fakeUpstream,
                        startedHere: true,
                        lab: LocalLab(stateDirectory: state)
                    ),
                    pid: pid,
                    state: state
                )
            }
            if let status = Spawn.exited(pid) {
                let log = (try? String(contentsOfFile: "\(state)/lab.log", encoding: .utf8)) ?? ""
                throw LabError("the lab exited with status \(status) before it was ready:\n\(log.suffix(1500))")
            }
            if let reason = Interruption.reason {
                OwnLab.stop(pid: pid, state: state)
                throw LabError("\(reason) while the lab was starting")
            }
            usleep(200_000)
        }
        kill(pid, SIGTERM)
        throw LabError("the lab was not ready within 180 s (see \(state)/lab.log)")
    }

    func stop() {
        Self.stop(pid: self.pid, state: self.state)
    }

    /// Stops the `lab up` at `pid` and removes its state folder (also for one not ready yet).
    static func stop(pid: pid_t, state: String) {
        Spawn.terminate(pid, grace: 60)
        try? FileManager.default.removeItem(atPath: state)
    }
}

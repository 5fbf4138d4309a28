import Foundation
import NIOHTTP1
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The scenario catalogue (`ops/scenarios/*.yaml`) run through `lab scenario run` against the
/// suite's lab: the files are the single description of those scenarios, and the runner is
/// shown to fail when it should.
extension ScenarioTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs `lab scenario run ARGUMENTS` against `lab` (nil: on a lab of the runner's own); the
    /// exit status and the reports' summary.
    private func scenario(
        _ arguments: [String],
        lab: LabEndpoints?
    ) async throws -> (status: Int32?, summary: String, decisions: [String: String]) {
        let (process, reports) = try self.startScenario(arguments, lab: lab)
        return try await self.finish(process, reports: reports)
    }

    /// Starts `lab scenario run ARGUMENTS`; the process and its report folder.
    private func startScenario(_ arguments: [String], lab: LabEndpoints?) throws -> (BackgroundProcess, String) {
        let reports = NSTemporaryDirectory() + "rm-e2e-reports-\(UUID().uuidString.prefix(8))"
        var command = ["\(BackgroundProcess.binaries)/lab", "scenario", "run"] + arguments
        if let lab {
            command += ["--app-url", lab.app, "--chaos-url", lab.chaos, "--fake-upstream-url", lab.fakeUpstream]
            if let token = lab.chaosToken { command += ["--chaos-token", token] }
            if let state = lab.stateDirectory { command += ["--lab-state", state] }
        }
        command += [
            "--report-dir", reports, "--rules", Self.repository.appendingPathComponent("ops/alerts/rules.yaml").path,
        ]
        return (try BackgroundProcess(command), reports)
    }

    /// Waits for a runner to exit; its status, the reports' summary and a single scenario's
    /// decisions. The report folder goes afterwards.
    private func finish(
        _ process: BackgroundProcess,
        reports: String
    ) async throws -> (status: Int32?, summary: String, decisions: [String: String]) {
        defer {
            process.cleanUp()
            try? FileManager.default.removeItem(atPath: reports)
        }
        let status = await process.waitForExit(timeout: .seconds(900))
        let summaries = ((try? FileManager.default.subpathsOfDirectory(atPath: reports)) ?? [])
            .filter { $0.hasSuffix("summary.md") }.sorted()
            .compactMap { try? String(contentsOfFile: "\(reports)/\($0)", encoding: .utf8) }
        // A single scenario's journal is in the folder itself: its decisions, as what → outcome.
        var decisions: [String: String] = [:]
        if let data = FileManager.default.contents(atPath: "\(reports)/journal.json"),
            let journal = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            for decision in journal["decisions"] as? [[String: Any]] ?? [] {
                if let what = decision["what"] as? String, let outcome = decision["outcome"] as? String {
                    decisions[what] = outcome
                }
            }
        }
        let summary = summaries.isEmpty ? process.log.suffix(3000).description : summaries.joined(separator: "\n")
        return (status, summary, decisions)
    }

    @Test("the scenario catalogue: every file holds through the runner, and so does its --control")
    func catalogue() async throws {
        let lab = try LabEndpoints.lab
        try await lab.restore()
        let directory = Self.repository.appendingPathComponent("ops/scenarios").path
        let all = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }
            .sorted().map { "\(directory)/\($0)" }
        #expect(all.count >= 11)
        // A system given from outside (Kind) has no App process here to signal: the files with
        // `app` steps are left out there, and run everywhere else.
        let files = all.filter { file in
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            let signals = text.split(separator: "\n").contains {
                $0.trimmingCharacters(in: .whitespaces).hasPrefix("- app:")
            }
            return lab.stateDirectory != nil || !signals
        }
        // The controls run on a lab of the runner's own at the same time (the load is light, and
        // the catalogue takes minutes), unless the system under test was given from outside:
        // then one after the other, on it.
        if lab.databaseURL != nil {
            async let control = self.scenario(files + ["--control"], lab: nil)
            let run = try await self.scenario(files, lab: lab)
            let controlled = try await control
            #expect(run.status == 0, "\(run.summary)")
            #expect(controlled.status == 0, "--control:\n\(controlled.summary)")
        } else {
            let controlled = try await self.scenario(files + ["--control"], lab: lab)
            #expect(controlled.status == 0, "--control:\n\(controlled.summary)")
            let run = try await self.scenario(files, lab: lab)
            #expect(run.status == 0, "\(run.summary)")
        }
        try await lab.restore()
    }

    @Test("the runner fails when it should: an expectation that cannot hold, and alerts without their fault")
    func runnerFails() async throws {
        let lab = try LabEndpoints.lab
        try await lab.restore()
        let folder = try Self.scenarioFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let load = "load: {rate: 20, mix: [{name: uncached, path: \"/characters?page={unique}&page_size={size}\"}]}\n"
        try """
        title: impossible
        duration: 5s
        \(load)timeline: [{phase: steady}]
        expect:
          - {name: answers in no time at all, latency_at_most: {p50: 0ms}}
        """.write(toFile: "\(folder)/impossible.yaml", atomically: true, encoding: .utf8)
        let impossible = try await self.scenario(["\(folder)/impossible.yaml"], lab: lab)
        #expect(impossible.status == 1, "\(impossible.summary)")
        #expect(impossible.summary.contains("| FAIL | answers in no time at all | p50 "), "\(impossible.summary)")

        // The database cut's alert expectation, with the cut itself left out.
        try """
        title: no cut
        duration: 15s
        \(load)timeline: [{phase: before, duration: 3s}, {phase: cut}]
        expect:
          - {name: DatabaseDown fires, phase: cut, alerts: {fire: [DatabaseDown]}}
        """.write(toFile: "\(folder)/no-cut.yaml", atomically: true, encoding: .utf8)
        let noCut = try await self.scenario(["\(folder)/no-cut.yaml"], lab: lab)
        #expect(noCut.status == 1, "\(noCut.summary)")
        #expect(noCut.summary.contains("| FAIL | DatabaseDown fires | DatabaseDown did not fire |"), "\(noCut.summary)")

        try "title: [broken\n".write(toFile: "\(folder)/broken.yaml", atomically: true, encoding: .utf8)
        let broken = try await self.scenario(["\(folder)/broken.yaml"], lab: lab)
        #expect(broken.status == 2, "a bad file cannot run: \(broken.summary)")
        #expect(broken.summary.contains("broken.yaml:2: not valid YAML"), "\(broken.summary)")
    }

    @Test("replay: the same seed and file make the same fault decisions; another seed makes others")
    func replay() async throws {
        let lab = try LabEndpoints.lab
        try await lab.restore()
        let folder = try Self.scenarioFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Half of the upstream proxy's connections get 1 ms of latency: one decision per
        // connection, and the App opens one per upstream request (a refresh is 42 of them). The
        // lab refreshes every 10 s, so 24 s holds at least one whole refresh in every run.
        try """
        title: replay
        duration: 24s
        load: {rate: 5, mix: [{name: cached, path: "/characters?page=1&page_size=10"}]}
        timeline:
          - phase: sampled
            steps:
              - toxic: {proxy: upstream, type: latency, toxicity: 0.5, attributes: {latency: 1}}
        expect: []
        """.write(toFile: "\(folder)/replay.yaml", atomically: true, encoding: .utf8)
        let first = try await self.scenario(["\(folder)/replay.yaml", "--seed", "5"], lab: lab)
        let second = try await self.scenario(["\(folder)/replay.yaml", "--seed", "5"], lab: lab)
        let other = try await self.scenario(["\(folder)/replay.yaml", "--seed", "6"], lab: lab)
        #expect([first.status, second.status, other.status] == [0, 0, 0], "\(first.summary)")
        let common = Set(first.decisions.keys).intersection(second.decisions.keys)
        #expect(
            common.count >= 20,
            "decisions made in both runs: \(common.count) (\(first.decisions.count) and \(second.decisions.count))"
        )
        let differing = common.filter { first.decisions[$0] != second.decisions[$0] }
        #expect(differing.isEmpty, "same seed, other outcomes: \(differing.sorted().prefix(5))")
        #expect(Set(common.compactMap { first.decisions[$0] }) == ["applied", "skipped"], "both outcomes occur")
        let shared = Set(first.decisions.keys).intersection(other.decisions.keys)
        #expect(shared.contains { first.decisions[$0] != other.decisions[$0] }, "another seed decides otherwise")
        try await lab.restore()
    }

    @Test("SIGTERM to the runner mid-run: faults undone, its Prometheus stopped, the run reported aborted, exit 2")
    func runnerInterrupted() async throws {
        let lab = try LabEndpoints.lab
        try await lab.restore()
        let folder = try Self.scenarioFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try """
        title: interrupted
        duration: 300s
        load: {rate: 5, mix: [{name: cached, path: "/characters?page=1&page_size=10"}]}
        timeline:
          - phase: slow
            steps:
              - toxic: {name: marker, proxy: upstream, type: latency, attributes: {latency: 1}}
        expect: []
        """.write(toFile: "\(folder)/interrupted.yaml", atomically: true, encoding: .utf8)
        let (process, reports) = try self.startScenario(["\(folder)/interrupted.yaml"], lab: lab)
        // Mid-run: the phase's toxic is on the proxy, and Prometheus (when installed) is recording.
        let toxicApplied = await eventually(timeout: .seconds(60)) {
            (try? await lab.chaos(.GET, "/proxies/upstream/toxics").body.contains("\"marker\"")) == true
        }
        #expect(toxicApplied, "the scenario's toxic never appeared")
        let recording = FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus")
        if recording {
            #expect(await eventually { !Self.children(of: process.pid).isEmpty }, "no Prometheus was started")
        }
        let children = Self.children(of: process.pid)
        process.signal(SIGTERM)
        let result = try await self.finish(process, reports: reports)
        #expect(result.status == 2, "\(result.summary)")
        #expect(result.summary.contains("**Could not run:** interrupted by SIGTERM"), "\(result.summary)")
        #expect(result.summary.contains("Rollbacks: 2 of 2 ran cleanly."), "\(result.summary)")
        let toxics = try await lab.chaos(.GET, "/proxies/upstream/toxics")
        #expect(toxics.status == 200 && !toxics.body.contains("marker"), "the toxic was left behind: \(toxics.body)")
        let left = children.filter { kill($0, 0) == 0 }
        #expect(left.isEmpty, "the runner left processes behind: \(left)")
        try await lab.restore()
    }

    /// A fresh temporary folder for scenario files written by a test.
    static func scenarioFolder() throws -> String {
        let folder = NSTemporaryDirectory() + "rm-e2e-scenarios-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// The processes whose parent is `pid` (from /proc).
    static func children(of pid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { candidate in
            guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            // pid (comm) state ppid …: the parent is the second field after the command.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid
        }
    }
}

import Foundation
import Native

/// Runs one scenario against a target: baseline, load and timeline, undo and rollbacks, alert
/// replay, verdicts. Blocking: the load has its own threads and the timeline runs on the caller's.
public struct ScenarioRunner {
    public struct Options: Sendable {
        /// Overrides the file's seed.
        public var seed: UInt64?
        /// Skip every fault step: the negative control.
        public var control: Bool
        /// Where the alert rules are (`ops/alerts/rules.yaml`).
        public var rules: String
        /// A scratch folder for the replay and Prometheus.
        public var workDirectory: String
        public var revision: String
        /// Where the one-second progress lines go.
        public var progress: @Sendable (String) -> Void

        public init(
            seed: UInt64? = nil,
            control: Bool = false,
            rules: String,
            workDirectory: String,
            revision: String = "unknown",
            progress: @escaping @Sendable (String) -> Void
        ) {
            self.seed = seed
            self.control = control
            self.rules = rules
            self.workDirectory = workDirectory
            self.revision = revision
            self.progress = progress
        }
    }

    let original: Scenario
    let scenario: Scenario
    let target: Target
    let options: Options
    let seed: UInt64

    public init(scenario: Scenario, target: Target, options: Options) {
        self.original = scenario
        self.scenario = options.control ? scenario.control : scenario
        self.target = target
        self.options = options
        self.seed = options.seed ?? scenario.seed
    }

    /// Runs the scenario; never throws: a run that cannot go on is reported as `aborted`.
    public func run() -> RunReport {
        var report = self.emptyReport()
        var timeline = Timeline(scenario: self.scenario)
        do {
            try self.prepare()
            report.steadyStates.before = SteadyStateProbe(target: self.target).check(self.scenario.steadyState)
            guard report.steadyStates.before.allSatisfy(\.passed) else {
                let failed = report.steadyStates.before.filter { !$0.passed }.map { "\($0.name): \($0.observed)" }
                throw RunFailure("the steady state did not hold before any fault: \(failed.joined(separator: "; "))")
            }
            try self.execute(&report, timeline: &timeline)
        } catch {
            report.status = "aborted"
            report.abortReason = "\(error)"
        }
        report.run = timeline.records
        report.rollbacks = self.rollback(&timeline)
        if report.status != "aborted" {
            let failed =
                report.expectations.contains { $0.verdict == "failed" }
                || !report.steadyStates.after.allSatisfy(\.passed)
                || report.rollbacks.contains { $0.result != "ok" }
            report.status = failed ? "failed" : "completed"
            report.deviated = failed
        }
        return report
    }

    /// A clean, seeded start: no toxics, every proxy enabled, no behaviours, empty journals; and
    /// for `app` steps, a local lab whose App is the target's.
    private func prepare() throws {
        let signals = self.scenario.phases.flatMap(\.steps).contains {
            if case .app = $0.action { true } else { false }
        }
        if signals {
            guard let lab = self.target.lab else { throw RunFailure(Timeline.needsLocalLab) }
            let app = try lab.appURL()
            guard app == self.target.app else {
                throw RunFailure("the lab in \(lab.stateDirectory) serves \(app ?? "no App"), not \(self.target.app)")
            }
        }
        do {
            try self.target.chaos("POST", "/reset")
            try self.target.chaos("POST", "/seed", "{\"seed\":\(self.seed)}")
            try self.target.upstreamAdmin("POST", "/reset")
        } catch {
            throw RunFailure("the target is not reachable or refused the reset: \(error)")
        }
    }

    /// Records, loads and runs the timeline, then judges what was observed.
    private func execute(_ report: inout RunReport, timeline: inout Timeline) throws {
        var events = ChaosEventLog(after: (try? self.chaosEvents(after: 0).last?.id) ?? 0)
        let extra = Set(
            self.scenario.expectations.compactMap { expectation -> String? in
                guard case .metric(let sample, _) = expectation.check else { return nil }
                return MetricKey.name(sample)
            }
        )
        let recorder = try MetricsRecorder(
            app: self.target.app,
            extra: extra,
            directory: "\(self.options.workDirectory)/prometheus"
        )
        // Stopped here too when the run ends early (an interruption, a failed step): no
        // Prometheus is left behind.
        defer { recorder.discard() }
        report.alertSource = recorder.source
        let load = LoadGenerator(
            schedule: LoadSchedule(load: self.scenario.load, duration: self.scenario.duration, seed: self.seed),
            app: self.target.app
        )
        let startTime = Date().timeIntervalSince1970
        // Replays of the recording so far, for the progress line: often enough to follow, rarely
        // enough to stay cheap on long runs (promtool evaluates the whole recording each time).
        let live = LiveAlerts(
            recorder: recorder,
            rules: self.options.rules,
            directory: "\(self.options.workDirectory)/live",
            interval: max(5, self.scenario.duration / 30)
        )
        let snapshots: [String: Observations.StoredSnapshot]
        do {
            defer { live.stop() }
            snapshots = try self.drive(load, timeline: &timeline, events: &events, live: live)
        }
        events.read(self)
        report.steadyStates.after = SteadyStateProbe(target: self.target).check(self.scenario.steadyState)

        var observed = Observations()
        observed.metrics = try recorder.stop()
        do {
            observed.alerts = try AlertReplay.run(
                observed.metrics,
                rules: self.options.rules,
                directory: self.options.workDirectory
            )
        } catch {
            observed.alertsUnavailable = "\(error)"
        }
        observed.outcomes = load.outcomes.sorted { $0.index < $1.index }
        observed.connections = self.target.lab?.databaseConnections(requestIDPrefix: load.requestIDPrefix) ?? [:]
        if let ids = try? self.target.storedIDs(), let expected = try? self.target.knownAnswer() {
            observed.stored = .init(ids: ids, expected: expected)
        }
        observed.upstream = self.upstreamJournal(since: startTime)
        observed.retryAfter = timeline.retryAfter
        observed.restarts = timeline.restarts
        observed.snapshots = snapshots
        report.decisions = self.decisions(events.events, since: startTime, journal: observed.upstream)
        self.judge(&report, observed: observed, timeline: timeline)
    }

    /// Runs the load and the timeline to the end; the stored-set snapshots the expectations need.
    private func drive(
        _ load: LoadGenerator,
        timeline: inout Timeline,
        events: inout ChaosEventLog,
        live: LiveAlerts
    ) throws -> [String: Observations.StoredSnapshot] {
        // The stored set before any fault, for `stored_set: old_or_new`.
        let snapshotPhases = Set(
            self.scenario.expectations.filter { $0.check == .oldOrNew }
                .flatMap { $0.phases.isEmpty ? [self.scenario.phases.last?.name ?? ""] : $0.phases }
        )
        let old = snapshotPhases.isEmpty ? [] : try self.target.storedIDs()
        var snapshots: [String: Observations.StoredSnapshot] = [:]
        let start = ContinuousClock.now
        load.start(at: start)
        var lastProgress = 0
        var phasesEnded = 0
        var interruption: String?
        while true {
            let now = LoadGenerator.seconds(start.duration(to: .now))
            // Snapshots first: at a phase's end the stored set is read before its faults are undone.
            while phasesEnded < self.scenario.phases.count && self.scenario.phases[phasesEnded].end <= now {
                let phase = self.scenario.phases[phasesEnded].name
                if snapshotPhases.contains(phase) {
                    snapshots[phase] = .init(
                        stored: (try? self.target.storedIDs()) ?? [],
                        old: old,
                        new: (try? self.target.upstreamSnapshot()) ?? []
                    )
                }
                phasesEnded += 1
            }
            interruption = Interruption.reason
            if interruption != nil { break }
            timeline.advance(to: now, target: self.target)
            if now >= self.scenario.duration { break }
            if Int(now) > lastProgress {
                lastProgress = Int(now)
                events.read(self)
                self.options.progress(
                    Progress.line(scenario: self.scenario, now: now, load: load, timeline: timeline, alerts: live.line)
                )
            }
            let next = min(timeline.nextTime ?? self.scenario.duration, Double(lastProgress + 1))
            if next > now { Thread.sleep(forTimeInterval: min(0.05, next - now)) }
        }
        load.stop()
        timeline.undoAll(at: LoadGenerator.seconds(start.duration(to: .now)), target: self.target)
        if let interruption { throw RunFailure(interruption) }
        return snapshots
    }

    /// The statistics, the explanations and every verdict, into the report.
    private func judge(_ report: inout RunReport, observed: Observations, timeline: Timeline) {
        let explainer = Explainer(
            windows: timeline.windows,
            decisions: report.decisions,
            settle: self.scenario.load.settle,
            slow: self.scenario.load.slow,
            connections: observed.connections
        )
        let findings = explainer.findings(observed.outcomes)
        let unexplained = findings.filter { $0.cause == nil }
        report.phases = Statistics.phases(
            self.scenario,
            outcomes: observed.outcomes,
            findings: findings,
            records: timeline.records
        )
        report.seconds = Statistics.seconds(observed.outcomes, duration: self.scenario.duration)
        report.unexplained = Array(unexplained.prefix(50))
        if let alerts = observed.alerts {
            report.alerts = Dictionary(uniqueKeysWithValues: alerts.alerts.map { ($0, alerts.seconds(of: $0)) })
        }
        report.expectations =
            Evaluator(scenario: self.scenario, observed: observed, control: self.options.control).evaluate() + [
                .init(
                    name: "every failed or slow request is explained by a fault",
                    window: "whole run",
                    verdict: unexplained.isEmpty ? "passed" : "failed",
                    observed: "\(findings.count - unexplained.count) of \(findings.count) explained",
                    margin: unexplained.isEmpty
                        ? "" : "\(unexplained.count) unexplained (see `unexplained` in journal.json)"
                )
            ]
    }

    /// Undoes whatever the timeline left applied, then resets Chaos and FakeUpstream's behaviours
    /// whatever happened: a scenario never leaves a fault behind.
    private func rollback(_ timeline: inout Timeline) -> [RunReport.Rollback] {
        var rollbacks: [RunReport.Rollback] = []
        for record in timeline.undoAll(at: nil, target: self.target) {
            rollbacks.append(.init(name: "undo: \(record.summary)", result: record.undone))
        }
        func attempt(_ name: String, _ body: () throws -> Void) {
            do {
                try body()
                rollbacks.append(.init(name: name, result: "ok"))
            } catch {
                rollbacks.append(.init(name: name, result: "\(error)"))
            }
        }
        attempt("chaos: POST /reset (every proxy enabled, no toxics)") { try self.target.chaos("POST", "/reset") }
        attempt("fake-upstream: DELETE /__admin/behaviors") { try self.target.upstreamAdmin("DELETE", "/behaviors") }
        return rollbacks
    }

    private func emptyReport() -> RunReport {
        let formatter = ISO8601DateFormatter()
        return RunReport(
            scenario: self.original.name,
            title: self.original.title,
            file: self.original.file,
            seed: self.seed,
            control: self.options.control,
            revision: self.options.revision,
            startedAt: formatter.string(from: Date()),
            duration: self.scenario.duration,
            target: .init(
                app: self.target.app,
                chaos: self.target.chaos,
                fakeUpstream: self.target.fakeUpstream,
                startedHere: self.target.startedHere
            ),
            status: "running",
            deviated: false,
            abortReason: nil,
            steadyStates: .init(before: [], after: []),
            run: [],
            rollbacks: [],
            phases: [],
            expectations: [],
            alertSource: "none",
            alerts: [:],
            seconds: [],
            decisions: [],
            unexplained: []
        )
    }
}

import Foundation
import Testing

@testable import ScenarioKit

@Suite("Scenario schedule, verdicts and reports")
struct ScenarioEvaluationTests {
    static func scenario(expect: [ScenarioKit.Expectation.Check], phases: [String] = []) -> Scenario {
        Scenario(
            name: "t",
            file: "t.yaml",
            title: "T",
            description: "",
            seed: 1,
            duration: 30,
            load: Load(
                rate: 10,
                ramp: 0,
                connections: 4,
                timeout: 5,
                slow: 1,
                settle: 2,
                mix: [
                    .init(name: "a", weight: 1, path: "/a"),
                    .init(name: "b", weight: 3, path: "/b?p={unique}&s={size}"),
                ]
            ),
            steadyState: SteadyState(within: 1, probes: []),
            phases: [
                Phase(name: "before", start: 0, end: 10, steps: []),
                Phase(
                    name: "cut",
                    start: 10,
                    end: 20,
                    steps: [
                        .init(at: 0, action: .disableProxy(proxy: "postgres", resetConnections: true), summary: "cut")
                    ]
                ),
                Phase(name: "after", start: 20, end: 30, steps: []),
            ],
            expectations: expect.map {
                ScenarioKit.Expectation(name: "e", phases: phases, requests: [], check: $0, faultsOnly: false)
            }
        )
    }

    static func evaluator(
        _ scenario: Scenario,
        _ outcomes: [Outcome],
        alerts: AlertReplay.Timeline?,
        control: Bool
    ) -> Evaluator {
        var observed = Observations()
        observed.outcomes = outcomes
        observed.alerts = alerts
        return Evaluator(scenario: scenario, observed: observed, control: control)
    }

    static func outcome(_ due: Double, _ status: Int?, latency: Double = 0.01, retryAfter: Bool = false) -> Outcome {
        Outcome(
            index: Int(due * 10),
            requestID: "scn-1-\(Int(due * 10))",
            request: "a",
            due: due,
            finished: due + latency,
            status: status,
            error: status == nil ? "connect" : nil,
            retryAfter: retryAfter
        )
    }

    @Test(
        "the open-model schedule sends rate × time requests, ramps linearly, and picks the mix by weight from the seed"
    )
    func schedule() {
        var load = Self.scenario(expect: []).load
        let flat = LoadSchedule(load: load, duration: 10, seed: 1)
        #expect(flat.due(0) == 0 && flat.due(5) == 0.5 && flat.due(99) == 9.9 && flat.due(100) == nil)
        load.ramp = 4
        let ramped = LoadSchedule(load: load, duration: 10, seed: 1)
        // Over a 4 s ramp to 10/s, 20 requests are due; then 10 a second.
        #expect(ramped.count(until: 4) == 20 && ramped.count(until: 10) == 80)
        #expect(ramped.due(20) == 4 && abs((ramped.due(5) ?? 0) - 2) < 1e-9 && ramped.due(80) == nil)
        let picks = (0..<4000).map(flat.request)
        let share = Double(picks.filter { $0 == 1 }.count) / 4000
        #expect(share > 0.72 && share < 0.78, "weight 3 of 4: \(share)")
        #expect((0..<100).map(LoadSchedule(load: load, duration: 10, seed: 1).request) == (0..<100).map(ramped.request))
        #expect((0..<100).map(LoadSchedule(load: load, duration: 10, seed: 2).request) != (0..<100).map(ramped.request))
        let path = flat.path(1, unique: 7)
        #expect(flat.request(1) == 0 ? path == "/a" : path == "/b?p=100008&s=12")
    }

    @Test("status, Retry-After, success and recovery verdicts say what was seen and by how much")
    func verdicts() {
        let outcomes = (0..<300).map { index -> Outcome in
            let due = Double(index) / 10
            let failing = due >= 10 && due < 22
            return Self.outcome(due, failing ? 503 : 200, retryAfter: failing && index % 50 != 0)
        }
        let scenario = Self.scenario(expect: [
            .statusIn([200, 503]), .statusIn([200]), .retryAfter([503]), .minSuccess(0.9),
        ])
        let results = Self.evaluator(scenario, outcomes, alerts: nil, control: false)
            .evaluate()
        #expect(results.map(\.verdict) == ["passed", "failed", "failed", "failed"])
        #expect(results[1].observed == "120 of 300 answers outside 200" && results[1].margin == "120 × 503")
        #expect(results[2].observed == "117 of 120 carried Retry-After")
        #expect(results[3].observed == "60 % of 300 succeeded" && results[3].margin == "30 points below the 90 % bound")

        var recovery = Self.scenario(expect: [.recoversWithin(3), .recoversWithin(1)], phases: ["after"])
        let recovered = Self.evaluator(recovery, outcomes, alerts: nil, control: false)
            .evaluate()
        #expect(recovered.map(\.verdict) == ["passed", "failed"])
        #expect(
            recovered[1].observed == "last failure 1900 ms into the window"
                && recovered[1].margin == "900 ms beyond the 1000 ms bound"
        )
        recovery.expectations[0].phases = ["before"]
        let before = Self.evaluator(recovery, outcomes, alerts: nil, control: false)
            .evaluate()
        #expect(before[0].observed == "no failure in the window")
        let empty = Self.evaluator(scenario, [], alerts: nil, control: false).evaluate()
        #expect(empty.allSatisfy { $0.verdict == "failed" && $0.observed == "no requests in the window" })
    }

    @Test("latency bounds use the percentile from the due time, with the gap to the bound")
    func latency() {
        let outcomes = (0..<100).map { Self.outcome(Double($0) / 10, 200, latency: $0 < 95 ? 0.01 : 0.612) }
        let scenario = Self.scenario(expect: [
            .latencyAtMost([99: 0.5]), .latencyAtMost([50: 0.02]), .latencyAtLeast([99: 0.5]),
        ])
        let results = Self.evaluator(scenario, outcomes, alerts: nil, control: false)
            .evaluate()
        #expect(results.map(\.verdict) == ["failed", "passed", "passed"])
        #expect(results[0].observed == "p99 612 ms" && results[0].margin == "112 ms above the 500 ms bound")
    }

    @Test("alerts must fire inside their phase; others stay silent; under --control every alert must stay silent")
    func alerts() {
        var firing = [Set<String>](repeating: [], count: 31)
        for second in 12...24 { firing[second].insert("DatabaseDown") }
        for second in 3...4 { firing[second].insert("HighLatencyP95") }
        let timeline = AlertReplay.Timeline(firing: firing)
        let scenario = Self.scenario(expect: [.alerts(fire: ["DatabaseDown"], othersSilent: false)], phases: ["cut"])
        let loose = Self.evaluator(scenario, [], alerts: timeline, control: false)
            .evaluate()
        #expect(loose[0].verdict == "passed" && loose[0].observed == "DatabaseDown fired at 12–24 s")
        var strict = scenario
        strict.expectations[0].check = .alerts(fire: ["DatabaseDown"], othersSilent: true)
        let result = Self.evaluator(strict, [], alerts: timeline, control: false)
            .evaluate()[0]
        #expect(
            result.verdict == "failed" && result.observed.contains("HighLatencyP95 fired at 3–4 s but must stay silent")
        )
        var late = scenario
        late.expectations[0].phases = ["after"]
        late.expectations[0].check = .alerts(fire: ["HighLatencyP95"], othersSilent: false)
        #expect(
            Self.evaluator(late, [], alerts: timeline, control: false).evaluate()[0].verdict
                == "failed"
        )
        let control = Self.evaluator(scenario, [], alerts: timeline, control: true)
            .evaluate()[0]
        #expect(
            control.verdict == "failed"
                && control.observed.contains("DatabaseDown fired at 12–24 s but must stay silent")
        )
        let quiet = AlertReplay.Timeline(firing: .init(repeating: [], count: 31))
        #expect(
            Self.evaluator(scenario, [], alerts: quiet, control: true).evaluate()[0].verdict
                == "passed"
        )
        #expect(
            Self.evaluator(scenario, [], alerts: nil, control: false).evaluate()[0].verdict
                == "failed"
        )
    }

    @Test("promtool's failures are read into the seconds each alert fired, whatever the duration format")
    func replayOutput() {
        let output = """
            Unit Testing:  x.yaml
              FAILED:
                expr: "ALERTS{alertstate=\\"firing\\"}", time: 5m,
                    exp: nil
                    got: {__name__="ALERTS", alertname="DatabaseDown", alertstate="firing"} 1E+00, {__name__="ALERTS", alertname="UpstreamFailing", alertstate="firing"} 1E+00
                expr: "ALERTS{alertstate=\\"firing\\"}", time: 1h5m,
                    exp: nil
                    got: {__name__="ALERTS", alertname="DatabaseDown", alertstate="firing"} 1E+00
            """
        let timeline = AlertReplay.parse(output, seconds: 70)
        #expect(timeline.seconds(of: "DatabaseDown") == [5, 65])
        #expect(timeline.seconds(of: "UpstreamFailing") == [5])
        #expect(timeline.alerts == ["DatabaseDown", "UpstreamFailing"])
        let file = AlertReplay.testFile(
            [["db_ok": 1, "http_requests_total{path=\"/x\"}": 2], ["db_ok": 0]],
            rules: "r.yaml"
        )
        #expect(file.contains("series: 'db_ok{job=\"rickmorty-api\",instance=\"lab\"}'\n        values: '1.0 0.0'"))
        #expect(file.contains("values: '120.0 _'"), "counters are scaled 60× and gaps stay gaps")
        #expect(file.components(separatedBy: "exp_samples: []").count == 3, "one test per second")
    }

    @Test("the reports: junit has one testcase per expectation with failures, summary and HTML say the verdict")
    func writers() throws {
        let report = RunReport(
            scenario: "cut",
            title: "Database <cut>",
            file: "ops/scenarios/cut.yaml",
            seed: 7,
            control: false,
            revision: "abc",
            startedAt: "2026-12-03T10:00:00Z",
            duration: 30,
            target: .init(app: "http://127.0.0.1:1", chaos: "c", fakeUpstream: "f", startedHere: true),
            status: "failed",
            deviated: true,
            abortReason: nil,
            steadyStates: .init(before: [.init(name: "ready", passed: true, observed: "status 200")], after: []),
            run: [
                .init(
                    phase: "cut",
                    summary: "proxy postgres disabled",
                    appliedAt: 10,
                    applied: "ok",
                    undoneAt: 20,
                    undone: "ok"
                )
            ],
            rollbacks: [.init(name: "chaos reset", result: "ok")],
            phases: [
                .init(
                    name: "cut",
                    start: 10,
                    end: 20,
                    faults: ["proxy postgres disabled"],
                    requests: 100,
                    rate: 10,
                    results: ["200": 50, "503": 50],
                    p50: 0.003,
                    p99: 0.01,
                    max: 0.02,
                    errors: 50,
                    explained: 50,
                    explainedByConnection: 20,
                    unexplained: 0
                )
            ],
            expectations: [
                .init(name: "never 500", window: "cut", verdict: "passed", observed: "0 of 100", margin: ""),
                .init(
                    name: "p99",
                    window: "cut",
                    verdict: "failed",
                    observed: "p99 612 ms",
                    margin: "112 ms above the 500 ms bound"
                ),
            ],
            alertSource: "scraper",
            alerts: ["DatabaseDown": [12, 13, 14]],
            seconds: (0..<30).map {
                .init(
                    second: $0,
                    ok: 10,
                    clientErrors: 0,
                    serverErrors: $0 / 10 == 1 ? 5 : 0,
                    failures: 0,
                    p50: 0.003,
                    p99: 0.01
                )
            },
            decisions: [],
            unexplained: []
        )
        #expect(report.exitCode == 1)
        let junit = ReportWriter.junit([report])
        #expect(junit.contains("<testsuite name=\"cut\" tests=\"5\" failures=\"1\""))
        #expect(junit.contains("<property name=\"seed\" value=\"7\"/>"))
        #expect(
            junit.contains(
                "<testcase classname=\"cut\" name=\"p99\">\n      <failure message=\"p99 612 ms; 112 ms above the 500 ms bound\"/>"
            )
        )
        // Aborted after the baseline held: the baseline passes, and the run is the failure.
        var interrupted = report
        interrupted.status = "aborted"
        interrupted.abortReason = "interrupted by SIGTERM"
        let aborted = ReportWriter.junit([interrupted])
        #expect(aborted.contains("<testcase classname=\"cut\" name=\"baseline: steady state before any fault\"/>"))
        #expect(
            aborted.contains(
                "<testcase classname=\"cut\" name=\"run: the scenario ran to its end\">\n      <failure message=\"interrupted by SIGTERM\"/>"
            ),
            "\(aborted)"
        )
        let summary = ReportWriter.summary(report)
        #expect(summary.hasPrefix("## Database <cut> — FAILED"))
        #expect(summary.contains("| FAIL | p99 | p99 612 ms | 112 ms above the 500 ms bound |"))
        #expect(summary.contains("| 50 (50, 20 by connection) |"), "\(summary)")
        let html = ReportWriter.html(report)
        #expect(html.contains("<title>Database &lt;cut&gt; — FAILED</title>"))
        #expect(html.contains("<svg") && html.contains("DatabaseDown firing at 13 s"))
        #expect(html.contains("<td class=\"num\">50</td><td class=\"num\">20</td><td class=\"num\">0</td>"))
        #expect(!html.contains("<script") && !html.contains("src=\"http"), "self-contained")
        let decoded = try ReportWriter.decodeJournal(try ReportWriter.journal(report))
        #expect(decoded.expectations.map(\.verdict) == ["passed", "failed"] && decoded.steadyStates.before.count == 1)
        let journal = String(decoding: try ReportWriter.journal(report), as: UTF8.self)
        #expect(
            journal.contains("\"steady_states\"") && journal.contains("\"rollbacks\"")
                && journal.contains("\"deviated\" : true")
        )
    }
}

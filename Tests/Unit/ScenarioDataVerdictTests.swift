import Foundation
import Testing

@testable import ScenarioKit

/// The verdicts on what the App itself reports: its metrics, its retries, its restarts and the
/// stored data (Evaluator+Data.swift).
extension ScenarioEvaluationTests {
    @Test("metric rules read the App's own series per second over the window, whatever the label order")
    func metrics() {
        #expect(
            MetricKey.normalize(#"ingest_runs_total{result="failure",backend="pg"}"#)
                == #"ingest_runs_total{backend="pg",result="failure"}"#
        )
        #expect(MetricKey.normalize(#"a{x="1,2",b="q\"}"}"#) == #"a{b="q\"}",x="1,2"}"#)
        var observed = Observations()
        observed.metrics = (0..<30).map { (second: Int) -> [String: Double] in
            let open: Double = second >= 12 && second < 18 ? 2 : 0
            return [
                "process_resident_memory_bytes": 20_000_000 + Double(second) * 100_000,
                "upstream_circuit_state": open,
                #"ingest_runs_total{result="failure"}"#: Double(second / 10),
            ]
        }
        let checks: [ScenarioKit.Expectation.Check] = [
            .metric(sample: "process_resident_memory_bytes", rule: .growthAtMost(0.15)),
            .metric(sample: "process_resident_memory_bytes", rule: .growthAtMost(0.05)),
            .metric(sample: "upstream_circuit_state", rule: .reaches(2)),
            .metric(sample: "upstream_circuit_state", rule: .endsAt(0)),
            .metric(sample: "upstream_circuit_state", rule: .atMost(1)),
            .metric(sample: #"ingest_runs_total{result="failure"}"#, rule: .increasesBy(2)),
            .metric(sample: "nope", rule: .atMost(1)),
        ]
        let results = Evaluator(scenario: Self.scenario(expect: checks), observed: observed, control: false).evaluate()
        #expect(results.map(\.verdict) == ["passed", "failed", "passed", "passed", "failed", "passed", "failed"])
        #expect(
            results[1].observed == "from 20000000 to 22900000, peak 22900000"
                && results[1].margin == "grew 14.5 %, bound 5 %"
        )
        #expect(results[6].observed == "nope was not recorded in the window")
        var cut = Self.scenario(
            expect: [.metric(sample: "upstream_circuit_state", rule: .reaches(2))],
            phases: ["before"]
        )
        #expect(Evaluator(scenario: cut, observed: observed, control: false).evaluate()[0].verdict == "failed")
        cut.expectations[0].phases = ["cut"]
        #expect(Evaluator(scenario: cut, observed: observed, control: false).evaluate()[0].verdict == "passed")
    }

    @Test("retries after a scripted Retry-After must wait that long; an HTTP-date template may be a second short")
    func retryGaps() {
        var observed = Observations()
        observed.retryAfter = ["b1": "2", "b2": "{{now+3s}}"]
        observed.upstream = [
            .init(time: 1, path: "/api/character", query: "page=2", status: 503, behavior: "b1"),
            .init(time: 1.5, path: "/api/character", query: "page=3", status: 200, behavior: nil),
            .init(time: 3.1, path: "/api/character", query: "page=2", status: 429, behavior: "b2"),
            .init(time: 5.2, path: "/api/character", query: "page=2", status: 200, behavior: nil),
        ]
        let scenario = Self.scenario(expect: [.retryAfterHonoured])
        let passed = Evaluator(scenario: scenario, observed: observed, control: false).evaluate()[0]
        #expect(passed.verdict == "passed" && passed.observed == "2 retries, 0 too early", "\(passed)")
        observed.upstream[3].time = 4.9
        let early = Evaluator(scenario: scenario, observed: observed, control: false).evaluate()[0]
        #expect(early.verdict == "failed" && early.margin == "tightest: 1800 ms after asking for 2000 ms")
        observed.upstream = []
        #expect(Evaluator(scenario: scenario, observed: observed, control: false).evaluate()[0].verdict == "failed")
        #expect(Evaluator.retryAfterSeconds("{{now+3s}}") == 2 && Evaluator.retryAfterSeconds("Wed, 21 Oct") == nil)
    }

    @Test("an App restart must end with the exit status asked for and a ready App in time")
    func appRestart() {
        let scenario = Self.scenario(expect: [.appRestart(exit: 0, readyWithin: 5)], phases: ["cut"])
        func verdict(_ restarts: [Observations.AppRestart]) -> RunReport.ExpectationResult {
            var observed = Observations()
            observed.outcomes = [Self.outcome(12, 200)]
            observed.restarts = restarts
            return Evaluator(scenario: scenario, observed: observed, control: false).evaluate()[0]
        }
        let clean = verdict([.init(signal: "SIGTERM", pid: 7, at: 11, exitStatus: 0, newPID: 9, readyAt: 13.5)])
        #expect(clean.verdict == "passed" && clean.margin == "2500 ms to spare", "\(clean.observed) \(clean.margin)")
        #expect(clean.observed == "App 7 (SIGTERM) exited 0; App 9 ready 2500 ms after the signal")
        #expect(
            verdict([.init(signal: "SIGTERM", pid: 7, at: 11, exitStatus: 1, newPID: 9, readyAt: 12)]).verdict
                == "failed"
        )
        let late = verdict([.init(signal: "SIGTERM", pid: 7, at: 11, exitStatus: 0, newPID: 9, readyAt: 17)])
        #expect(late.verdict == "failed" && late.margin == "1000 ms late")
        #expect(verdict([.init(signal: "SIGTERM", pid: 7, at: 11, exitStatus: 0)]).verdict == "failed")
        let outside = verdict([.init(signal: "SIGTERM", pid: 7, at: 3, exitStatus: 0, newPID: 9, readyAt: 4)])
        #expect(outside.verdict == "failed" && outside.observed == "no App was signalled in the window")
    }

    @Test("after an ambiguous commit the stored set must be the old or the new one, never a mix")
    func oldOrNew() {
        var observed = Observations()
        let scenario = Self.scenario(expect: [.oldOrNew], phases: ["cut"])
        for (stored, verdict) in [([1, 2, 3], "passed"), ([2, 3], "passed"), ([3], "failed")] {
            observed.snapshots["cut"] = .init(stored: stored, old: [1, 2, 3], new: [2, 3])
            #expect(Evaluator(scenario: scenario, observed: observed, control: false).evaluate()[0].verdict == verdict)
        }
        observed.snapshots = [:]
        #expect(Evaluator(scenario: scenario, observed: observed, control: false).evaluate()[0].verdict == "failed")
    }
}

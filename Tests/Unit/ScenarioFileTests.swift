import Foundation
import Testing

@testable import ScenarioKit

@Suite("Scenario files")
struct ScenarioFileTests {
    static let good = """
        title: Database cut
        seed: 9
        duration: 30s
        load:
          rate: 20
          ramp: 2s
          mix:
            - {name: cached, weight: 3, path: /characters?page=1}
            - {name: uncached, path: "/characters?page={unique}&page_size={size}"}
        steady_state:
          within: 5s
          probes:
            - {name: ready, get: /readyz}
            - {name: healthy, get: /healthcheck, json: {status: ok, db_ok: true, count: 3}}
            - {name: db, metric: db_ok, min: 1}
            - {name: data, known_answer: true}
        timeline:
          - phase: before
            duration: 10s
          - phase: cut
            duration: 10s
            steps:
              - disable_proxy: postgres
              - at: 2s
                toxic: {proxy: postgres, type: latency, attributes: {latency: 700}}
              - upstream: {match: {path: /api/character}, action: {status: 503}, times: 2}
          - phase: after
        expect:
          - {name: only 200 or 503, requests: uncached, status_in: [200, 503]}
          - {phase: cut, retry_after_on: 503}
          - {phase: [before, after], min_success: 99.5%}
          - {latency_at_most: {p99: 500ms, p50: 20ms}}
          - {phase: cut, when: faults, latency_at_least: {p95: 0.5}}
          - {phase: after, recovers_within: 10s}
          - {phase: cut, alerts: {fire: [DatabaseDown], others: silent}}
          - {known_answer: true}
          - {phase: cut, stored_set: old_or_new}
          - {retry_after_honoured: true}
          - {name: RSS, metric: process_resident_memory_bytes, growth_at_most: 10%}
          - {phase: cut, metric: 'ingest_runs_total{result="failure"}', increases_by: 1}
        """

    func parse(_ text: String) throws -> Scenario {
        try ScenarioParser.parse(text, file: "t.yaml", name: "t")
    }

    /// The refusal for `text`, or nil when it parses.
    func refusal(_ text: String) -> ScenarioFileError? {
        do {
            _ = try self.parse(text)
            return nil
        } catch {
            return error as? ScenarioFileError
        }
    }

    @Test("a complete file parses into phases, steps, probes and expectations")
    func goodFile() throws {
        let scenario = try self.parse(Self.good)
        #expect(scenario.seed == 9 && scenario.duration == 30)
        #expect(scenario.load.rate == 20 && scenario.load.ramp == 2 && scenario.load.mix.map(\.weight) == [3, 1])
        #expect(scenario.phases.map(\.name) == ["before", "cut", "after"])
        #expect(scenario.phases.map(\.start) == [0, 10, 20] && scenario.phases.last?.end == 30)
        let steps = scenario.phases[1].steps
        #expect(steps.map(\.at) == [0, 2, 0])
        #expect(steps[0].action == .disableProxy(proxy: "postgres", resetConnections: true))
        guard case .toxic(let proxy, let json, let name) = steps[1].action else {
            Issue.record("not a toxic: \(steps[1].action)")
            return
        }
        #expect(proxy == "postgres" && name == "latency_downstream")
        let toxic = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect((toxic?["attributes"] as? [String: Any])?["latency"] as? Int == 700)
        #expect(
            scenario.steadyState.probes[1].check
                == .http(
                    path: "/healthcheck",
                    status: 200,
                    json: ["status": .string("ok"), "db_ok": .bool(true), "count": .number(3)]
                )
        )
        #expect(scenario.steadyState.probes[2].check == .metric(sample: "db_ok", min: 1, max: nil))
        let checks = scenario.expectations.map(\.check)
        #expect(checks[0] == .statusIn([200, 503]) && scenario.expectations[0].requests == ["uncached"])
        #expect(checks[1] == .retryAfter([503]))
        #expect(checks[2] == .minSuccess(0.995) && scenario.expectations[2].phases == ["before", "after"])
        #expect(checks[3] == .latencyAtMost([99: 0.5, 50: 0.02]))
        #expect(checks[4] == .latencyAtLeast([95: 0.5]) && scenario.expectations[4].faultsOnly)
        #expect(checks[5] == .recoversWithin(10))
        #expect(checks[6] == .alerts(fire: ["DatabaseDown"], othersSilent: true))
        #expect(checks[7] == .knownAnswer)
        #expect(checks[8] == .oldOrNew && checks[9] == .retryAfterHonoured)
        #expect(checks[10] == .metric(sample: "process_resident_memory_bytes", rule: .growthAtMost(0.1)))
        #expect(checks[11] == .metric(sample: #"ingest_runs_total{result="failure"}"#, rule: .increasesBy(1)))
        #expect(scenario.control.phases.allSatisfy { $0.steps.isEmpty }, "--control removes every fault step")
    }

    @Test(
        "bad files are refused with the file, the line and what is wrong",
        arguments: [
            (
                "title: x\nduration: 10s\nload: {rate: 1, mix: [{name: a, path: /}]}\ntimeline: [{phase: p}]\nexpect: []\nextra: 1\n",
                "t.yaml:6: unknown key `extra` in `` (known: `title`, `description`, `seed`, `duration`, `load`, `steady_state`, `timeline`, `expect`)"
            ),
            (
                "title: x\nduration: 10s\nload:\n  rate: 1\n  burst: 3\n  mix: [{name: a, path: /}]\ntimeline: [{phase: p}]\nexpect: []\n",
                "t.yaml:5: unknown key `burst` in `load` (known: `rate`, `ramp`, `connections`, `timeout`, `slow`, `settle`, `mix`)"
            ),
            (
                "title: x\nduration: 10s\nload: {rate: 1, mix: [{name: a, path: /}]}\ntimeline:\n  - {phase: a, duration: 8s}\n  - {phase: b, duration: 5s}\nexpect: []\n",
                "t.yaml:6: phase b ends at 13.0 s, after the run's 10.0 s"
            ),
            (
                "title: x\nduration: 10s\nload: {rate: 1, mix: [{name: a, path: /}]}\ntimeline:\n  - phase: a\n    steps:\n      - {at: 12s, disable_proxy: postgres}\nexpect: []\n",
                "t.yaml:7: the step at 12.0 s is past the end of phase a (10.0 s)"
            ),
            (
                "title: x\nduration: ten\nload: {rate: 1, mix: [{name: a, path: /}]}\ntimeline: [{phase: p}]\nexpect: []\n",
                "t.yaml:2: `duration` must be a duration such as 500ms, 20s or 2m, got \"ten\""
            ),
            (
                "title: x\nduration: 10s\nload: {rate: 1, mix: [{name: a, path: /}]}\ntimeline: [{phase: p}]\nexpect:\n  - {phase: q, min_success: 1}\n",
                "t.yaml:6: no phase is named q (phases: p)"
            ),
            (
                "title: x\nduration: 10s\nload: {rate: 1, mix: [{name: a, path: /}]}\ntimeline: [{phase: p}]\nexpect:\n  - {min_success: 1, status_in: [200]}\n",
                "t.yaml:6: `expect[0]` needs exactly one of `status_in`, `retry_after_on`, `min_success`, `latency_at_most`, `latency_at_least`, `recovers_within`, `alerts`, `known_answer`, `stored_set`, `retry_after_honoured`, `metric`, `app_restart`"
            ),
            (
                "title: x\nduration: 10s\nload: {rate: 1, mix: [{name: a, path: /}]}\ntimeline: [{phase: p}]\nexpect:\n  - {latency_at_most: {q99: 1s}}\n",
                "t.yaml:6: `q99` is not a percentile: write p50, p95, p99 or p99.9"
            ),
            (
                "title: x\nduration: 10s\nload: {rate: 1, mix: [{name: a, path: /}]}\ntimeline: [{phase: p}]\nexpect:\n  - {min_success: 120%}\n",
                "t.yaml:6: `expect[0].min_success` must be a share such as 99.5% or 0.995"
            ),
            (
                "title: x\nduration: 10s\nload: {rate: 1, mix: [{name: a, path: /}]}\ntimeline: [{phase: p, steps: [{toxic: {proxy: pg, type: latency}, upstream: {}}]}]\nexpect: []\n",
                "t.yaml:4: `timeline[0].steps[0]` needs exactly one of `toxic`, `disable_proxy`, `upstream` or `app`"
            ),
            (
                "title: x\nduration: 10s\nload: {rate: 1, mix: [{name: a, path: /}]}\ntimeline: [{phase: p, steps: [{app: sighup}]}]\nexpect: []\n",
                "t.yaml:4: `app` must be sigterm or sigkill"
            ),
            (
                "title: x\nduration: 10s\nload: {rate: 1, mix: [{name: a, path: /}]}\ntimeline: [{phase: p}]\nexpect:\n  - {app_restart: {exit: 0}}\n",
                "t.yaml:6: `expect[0].app_restart` needs `ready_within`"
            ),
            (
                "title: x\nduration: 10s\nload: {rate: 1}\ntimeline: [{phase: p}]\nexpect: []\n",
                "t.yaml:3: `load` needs `mix`"
            ),
            ("title: [x\n", "t.yaml:2: not valid YAML"),
            (
                "title: x\nduration: 10s\nload: {rate: 1, mix: [{name: a, path: /}]}\ntimeline: [{phase: p}]\nexpect:\n  - {metric: db_ok}\n",
                "t.yaml:6: `metric` needs exactly one of `at_most`, `reaches`, `ends_at`, `growth_at_most`, `increases_by`"
            ),
            (
                "title: x\nduration: 10s\nload: {rate: 1, mix: [{name: a, path: /}]}\ntimeline: [{phase: p}]\nexpect:\n  - {min_success: 1, at_most: 3}\n",
                "t.yaml:6: `at_most` belongs to a `metric` expectation"
            ),
        ]
    )
    func badFile(text: String, message: String) {
        let error = self.refusal(text)
        #expect(error?.description.hasPrefix(message) == true, "got: \(error?.description ?? "no error")")
    }

    @Test("an app step sends a signal, and app_restart is judged only when faults run")
    func appSteps() throws {
        let scenario = try self.parse(
            """
            title: x
            duration: 20s
            load: {rate: 1, mix: [{name: a, path: /}]}
            timeline:
              - {phase: before, duration: 5s}
              - {phase: restart, steps: [{at: 1s, app: SIGTERM}, {at: 2s, app: sigkill}]}
            expect:
              - {phase: restart, app_restart: {exit: 0, ready_within: 10s}}
              - {app_restart: {ready_within: 1m}}
            """
        )
        #expect(scenario.phases[1].steps.map(\.action) == [.app(signal: "SIGTERM"), .app(signal: "SIGKILL")])
        #expect(scenario.phases[1].steps.map(\.at) == [1, 2])
        let checks = scenario.expectations.map(\.check)
        #expect(checks == [.appRestart(exit: 0, readyWithin: 10), .appRestart(exit: nil, readyWithin: 60)])
        let faultsOnly = scenario.expectations.map(\.faultsOnly)
        #expect(faultsOnly == [true, true], "without the signal there is no restart to judge")
    }

    @Test("a quoted number is text and a bare one a number: YAML's own typing is kept")
    func typing() throws {
        let text = Self.good.replacingOccurrences(of: "count: 3", with: "count: \"3\"")
        let probe = try self.parse(text).steadyState.probes[1]
        guard case .http(_, _, let json) = probe.check else {
            Issue.record("not an http probe")
            return
        }
        #expect(json["count"] == .string("3"))
    }

    @Test("every file in the catalogue parses and passes check against the real alert rules")
    func catalogue() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let directory = root.appendingPathComponent("ops/scenarios").path
        let rules = try ScenarioChecker.alertRules(path: root.appendingPathComponent("ops/alerts/rules.yaml").path)
        #expect(rules.contains(ScenarioChecker.AlertRule(name: "DatabaseDown", holdFor: 60)))
        let optIn = try FileManager.default.contentsOfDirectory(atPath: "\(directory)/opt-in")
            .filter { $0.hasSuffix(".yaml") }.map { "opt-in/\($0)" }
        let files =
            try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") } + optIn
        #expect(files.count >= 9 && optIn.contains("opt-in/soak.yaml"))
        for file in files {
            let scenario = try ScenarioParser.load(path: "\(directory)/\(file)")
            #expect(ScenarioChecker.problems(scenario, rules: rules).isEmpty, "\(file)")
        }
    }

    @Test("check names an alert the rules do not have, and one that cannot fire within its window")
    func checker() throws {
        var scenario = try self.parse(Self.good)
        scenario.expectations.append(
            Expectation(
                name: "x",
                phases: ["cut"],
                requests: ["nope"],
                check: .alerts(fire: ["NoSuchAlert", "Slow"], othersSilent: true),
                faultsOnly: false
            )
        )
        let problems = ScenarioChecker.problems(
            scenario,
            rules: [.init(name: "DatabaseDown", holdFor: 60), .init(name: "Slow", holdFor: 3600)]
        )
        #expect(problems.count == 3, "\(problems)")
        #expect(problems.contains { $0.contains("no alert named NoSuchAlert") })
        #expect(problems.contains { $0.contains("Slow cannot fire in time") && $0.contains("60 s of the run") })
        #expect(problems.contains { $0.contains("selects requests nope") })
    }
}

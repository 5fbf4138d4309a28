import Foundation
import Yams

/// `lab scenario check`: what can be known about a scenario without running it, beyond parsing.
public enum ScenarioChecker {
    /// An alert rule's name and how long its condition must hold (`for:`), in seconds.
    public struct AlertRule: Sendable, Equatable {
        public var name: String
        public var holdFor: Double
    }

    /// The alert rules in a Prometheus rules file.
    public static func alertRules(path: String) throws -> [AlertRule] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw RunFailure("cannot read the alert rules at \(path)")
        }
        var rules: [AlertRule] = []
        let root = try Yams.load(yaml: text) as? [String: Any]
        for group in root?["groups"] as? [[String: Any]] ?? [] {
            for rule in group["rules"] as? [[String: Any]] ?? [] {
                guard let name = rule["alert"] as? String else { continue }
                let holdFor = (rule["for"] as? String).flatMap(YAMLField.seconds) ?? 0
                rules.append(AlertRule(name: name, holdFor: holdFor))
            }
        }
        return rules
    }

    /// Problems with a parsed scenario, one line each; empty when it is fine.
    public static func problems(_ scenario: Scenario, rules: [AlertRule]) -> [String] {
        var problems: [String] = []
        let known = Dictionary(rules.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for expectation in scenario.expectations {
            guard case .alerts(let fire, _) = expectation.check else { continue }
            let phases = scenario.phases.filter { expectation.phases.contains($0.name) }
            let window = phases.isEmpty ? scenario.duration : phases.map(\.duration).max() ?? 0
            for alert in fire {
                guard let rule = known[alert] else {
                    problems.append(
                        "\(scenario.file): expectation \"\(expectation.name)\": no alert named \(alert) in the rules (known: \(rules.map(\.name).joined(separator: ", ")))"
                    )
                    continue
                }
                // Rule time runs 60× faster than the run; the alert needs its `for:` plus two
                // scrapes of the condition inside the window and the slack after it.
                let needed = rule.holdFor / 60 + 2
                if window + Evaluator.alertSlack < needed {
                    problems.append(
                        "\(scenario.file): \(alert) cannot fire in time: it must hold for \(Format.seconds(rule.holdFor)) of rule time (\(Format.seconds(rule.holdFor / 60)) of the run at 60×) but its window is \(Format.seconds(window)) plus \(Format.seconds(Evaluator.alertSlack)) of slack"
                    )
                }
            }
        }
        let names = Set(scenario.load.mix.map(\.name))
        for expectation in scenario.expectations {
            for request in expectation.requests where !names.contains(request) {
                problems.append(
                    "\(scenario.file): expectation \"\(expectation.name)\" selects requests \(request), which `load.mix` does not have"
                )
            }
        }
        return problems
    }
}

import Histogram

/// Judges a scenario's expectations against what the run observed: pure functions of the
/// outcomes, the alert timeline and the final data check, so they are tested without a lab.
public struct Evaluator: Sendable {
    /// Seconds after a phase's end during which its alerts may still start firing (rule time is
    /// compressed 60×, so this is ten minutes of rule time).
    public static let alertSlack = 10.0

    public var scenario: Scenario
    public var observed: Observations
    public var control: Bool
    var outcomes: [Outcome] { self.observed.outcomes }
    var alerts: AlertReplay.Timeline? { self.observed.alerts }

    public init(scenario: Scenario, observed: Observations, control: Bool) {
        self.scenario = scenario
        self.observed = observed
        self.control = control
    }

    public func evaluate() -> [RunReport.ExpectationResult] {
        self.scenario.expectations.map(self.evaluate)
    }

    /// The seconds an expectation covers: its phases, or the whole run.
    func window(_ expectation: Expectation) -> [(start: Double, end: Double)] {
        let phases = self.scenario.phases.filter { expectation.phases.contains($0.name) }
        return phases.isEmpty ? [(0, self.scenario.duration)] : phases.map { ($0.start, $0.end) }
    }

    func selected(_ expectation: Expectation) -> [Outcome] {
        let window = self.window(expectation)
        return self.outcomes.filter { outcome in
            (expectation.requests.isEmpty || expectation.requests.contains(outcome.request))
                && window.contains { outcome.due >= $0.start && outcome.due < $0.end }
        }
    }

    func evaluate(_ expectation: Expectation) -> RunReport.ExpectationResult {
        let window = expectation.phases.isEmpty ? "whole run" : expectation.phases.joined(separator: ", ")
        func result(_ passed: Bool, _ observed: String, _ margin: String = "") -> RunReport.ExpectationResult {
            .init(
                name: expectation.name,
                window: window,
                verdict: passed ? "passed" : "failed",
                observed: observed,
                margin: margin
            )
        }
        if expectation.faultsOnly && self.control {
            return .init(
                name: expectation.name,
                window: window,
                verdict: "skipped",
                observed: "--control: no faults",
                margin: ""
            )
        }
        let selected = self.selected(expectation)
        switch expectation.check {
        case .alerts(let fire, let othersSilent):
            return self.alerts(fire: fire, othersSilent: othersSilent, expectation: expectation, result: result)
        case .oldOrNew:
            return self.oldOrNew(expectation, result: result)
        case .retryAfterHonoured:
            return self.retryGaps(result: result)
        case .metric(let sample, let rule):
            return self.metric(sample, rule, expectation: expectation, result: result)
        case .appRestart(let exit, let within):
            return self.appRestart(exit: exit, within: within, expectation: expectation, result: result)
        case .knownAnswer:
            guard let stored = self.observed.stored else { return result(false, "the stored set could not be read") }
            let missing = Set(stored.expected).subtracting(stored.ids).count
            let extra = Set(stored.ids).subtracting(stored.expected).count
            return result(
                missing == 0 && extra == 0,
                "\(stored.ids.count) stored, \(stored.expected.count) expected",
                missing + extra == 0 ? "" : "\(missing) missing, \(extra) not in the known answer"
            )
        default:
            break
        }
        guard !selected.isEmpty else { return result(false, "no requests in the window") }
        switch expectation.check {
        case .statusIn(let statuses):
            let outside = selected.filter { $0.status.map { !statuses.contains($0) } ?? true }
            let kinds = Dictionary(grouping: outside, by: \.result).map { "\($0.value.count) × \($0.key)" }.sorted()
            return result(
                outside.isEmpty,
                "\(outside.count) of \(selected.count) answers outside \(statuses.map(String.init).joined(separator: ", "))",
                kinds.joined(separator: ", ")
            )
        case .retryAfter(let statuses):
            let answered = selected.filter { $0.status.map(statuses.contains) ?? false }
            let missing = answered.filter { !$0.retryAfter }
            return result(missing.isEmpty, "\(answered.count - missing.count) of \(answered.count) carried Retry-After")
        case .minSuccess(let bound):
            let share = Double(selected.filter(\.succeeded).count) / Double(selected.count)
            let gap = (share - bound) * 100
            return result(
                share >= bound,
                "\(Format.percent(share)) of \(selected.count) succeeded",
                "\(Format.number((abs(gap) * 100).rounded() / 100)) points \(gap >= 0 ? "above" : "below") the \(Format.percent(bound)) bound"
            )
        case .latencyAtMost(let bounds), .latencyAtLeast(let bounds):
            let atMost = if case .latencyAtMost = expectation.check { true } else { false }
            let histogram = Self.histogram(selected)
            var passed = true
            var observed: [String] = []
            var margins: [String] = []
            for (percent, bound) in bounds.sorted(by: { $0.key < $1.key }) {
                let value = Self.percentile(histogram, percent)
                let holds = atMost ? value <= bound : value >= bound
                passed = passed && holds
                observed.append("p\(Format.number(percent)) \(Format.seconds(value))")
                let side = value > bound ? "above" : "below"
                margins.append("\(Format.seconds(abs(value - bound))) \(side) the \(Format.seconds(bound)) bound")
            }
            return result(passed, observed.joined(separator: ", "), margins.joined(separator: "; "))
        case .recoversWithin(let seconds):
            let start = self.window(expectation).map(\.start).min() ?? 0
            guard let last = selected.filter({ !$0.succeeded }).map(\.due).max() else {
                return result(true, "no failure in the window", "\(Format.seconds(seconds)) to spare")
            }
            let took = last - start
            let side = took <= seconds ? "inside" : "beyond"
            return result(
                took <= seconds,
                "last failure \(Format.seconds(took)) into the window",
                "\(Format.seconds(abs(seconds - took))) \(side) the \(Format.seconds(seconds)) bound"
            )
        default:
            return result(false, "not evaluated")
        }
    }

    private func alerts(
        fire: [String],
        othersSilent: Bool,
        expectation: Expectation,
        result: (Bool, String, String) -> RunReport.ExpectationResult
    ) -> RunReport.ExpectationResult {
        guard let alerts else {
            return result(false, "no alert replay: \(self.observed.alertsUnavailable ?? "not run")", "")
        }
        let mustFire = self.control ? [] : fire
        let window = self.window(expectation)
        var observed: [String] = []
        var passed = true
        for alert in mustFire {
            let seconds = alerts.seconds(of: alert)
            let inside = seconds.filter { second in
                window.contains { Double(second) >= $0.start && Double(second) <= $0.end + Self.alertSlack }
            }
            passed = passed && !inside.isEmpty
            observed.append(
                inside.isEmpty
                    ? "\(alert) did not fire"
                        + (seconds.isEmpty ? "" : " in the window (fired at \(Self.spans(seconds)))")
                    : "\(alert) fired at \(Self.spans(seconds))"
            )
        }
        // Under --control no alert may fire at all; otherwise, with `others: silent`, none but these.
        let loud = (self.control ? alerts.alerts : othersSilent ? alerts.alerts.subtracting(fire) : []).sorted()
        passed = passed && loud.isEmpty
        observed += loud.map { "\($0) fired at \(Self.spans(alerts.seconds(of: $0))) but must stay silent" }
        if observed.isEmpty { observed = ["no alert fired"] }
        let margin = self.control && !fire.isEmpty ? "--control: \(fire.joined(separator: ", ")) must stay silent" : ""
        return result(passed, observed.joined(separator: "; "), margin)
    }

    /// `12–31 s, 40 s`: runs of consecutive seconds.
    static func spans(_ seconds: [Int]) -> String {
        var parts: [String] = []
        var index = 0
        while index < seconds.count {
            var end = index
            while end + 1 < seconds.count && seconds[end + 1] == seconds[end] + 1 { end += 1 }
            parts.append(end == index ? "\(seconds[index]) s" : "\(seconds[index])–\(seconds[end]) s")
            index = end + 1
        }
        return parts.joined(separator: ", ")
    }

    /// Latencies in microseconds, from 1 µs to 10 minutes, three significant digits.
    static func histogram(_ outcomes: [Outcome]) -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        for outcome in outcomes {
            _ = histogram.record(UInt64(max(1, min(600_000_000, (outcome.latency * 1e6).rounded()))))
        }
        return histogram
    }

    /// A percentile in seconds.
    static func percentile(_ histogram: Histogram<UInt64>, _ percent: Double) -> Double {
        Double(histogram.valueAtPercentile(percent)) / 1e6
    }
}

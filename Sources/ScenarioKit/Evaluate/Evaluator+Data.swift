import Foundation

/// The verdicts on the data, the retries and the App's own metrics.
extension Evaluator {
    typealias Verdict = (Bool, String, String) -> RunReport.ExpectationResult

    func oldOrNew(_ expectation: Expectation, result: Verdict) -> RunReport.ExpectationResult {
        let phases = expectation.phases.isEmpty ? [self.scenario.phases.last?.name ?? ""] : expectation.phases
        var observed: [String] = []
        var passed = true
        for phase in phases {
            guard let snapshot = self.observed.snapshots[phase] else {
                return result(false, "no stored set was read at the end of \(phase)", "")
            }
            let which =
                snapshot.stored == snapshot.new
                ? "the new set" : snapshot.stored == snapshot.old ? "the old set" : "a mix"
            passed = passed && which != "a mix"
            observed.append(
                "end of \(phase): \(snapshot.stored.count) stored, \(which) (old \(snapshot.old.count), new \(snapshot.new.count))"
            )
        }
        return result(passed, observed.joined(separator: "; "), "")
    }

    /// Each answer with a scripted `Retry-After`, and the gap to the next request for the same
    /// page. An HTTP-date has whole seconds, so a date written as `{{now+Ns}}` may mean up to a
    /// second less than N.
    func retryGaps(result: Verdict) -> RunReport.ExpectationResult {
        let journal = self.observed.upstream.sorted { $0.time < $1.time }
        var checked: [(asked: Double, gap: Double)] = []
        for (index, entry) in journal.enumerated() {
            guard let behavior = entry.behavior, let value = self.observed.retryAfter[behavior],
                let asked = Self.retryAfterSeconds(value)
            else { continue }
            guard
                let next = journal[(index + 1)...].first(where: { $0.path == entry.path && $0.query == entry.query })
            else { continue }
            checked.append((asked, next.time - entry.time))
        }
        guard !checked.isEmpty else {
            return result(false, "no retry after a scripted Retry-After in FakeUpstream's journal", "")
        }
        let short = checked.filter { $0.gap < $0.asked - 0.05 }
        let tightest = checked.min { $0.gap - $0.asked < $1.gap - $1.asked }!
        return result(
            short.isEmpty,
            "\(checked.count) retries, \(short.count) too early",
            "tightest: \(Format.seconds(tightest.gap)) after asking for \(Format.seconds(tightest.asked))"
        )
    }

    /// The least wait a scripted value asks for: delta-seconds, or `{{now+Ns}}` (N − 1, as the
    /// date is truncated to the second); nil for anything else.
    static func retryAfterSeconds(_ value: String) -> Double? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(text), seconds >= 0 { return seconds }
        if text.hasPrefix("{{now+"), text.hasSuffix("s}}"), let seconds = Double(text.dropFirst(6).dropLast(3)) {
            return max(0, seconds - 1)
        }
        return nil
    }

    func metric(
        _ sample: String,
        _ rule: Expectation.MetricRule,
        expectation: Expectation,
        result: Verdict
    ) -> RunReport.ExpectationResult {
        let key = MetricKey.normalize(sample)
        let window = self.window(expectation)
        let values = self.observed.metrics.enumerated().compactMap { second, scrape -> Double? in
            guard window.contains(where: { Double(second) >= $0.start && Double(second) < $0.end }) else { return nil }
            return scrape[key]
        }
        guard let first = values.first, let last = values.last, let peak = values.max() else {
            return result(false, "\(sample) was not recorded in the window", "")
        }
        let range = "from \(Format.number(first)) to \(Format.number(last)), peak \(Format.number(peak))"
        switch rule {
        case .atMost(let bound):
            return result(
                peak <= bound,
                range,
                "\(Format.number(abs(bound - peak))) \(peak <= bound ? "below" : "above") \(Format.number(bound))"
            )
        case .reaches(let value):
            return result(
                peak >= value,
                range,
                peak >= value ? "" : "\(Format.number(value - peak)) short of \(Format.number(value))"
            )
        case .endsAt(let value):
            return result(
                last == value,
                range,
                last == value ? "" : "ends \(Format.number(last)), not \(Format.number(value))"
            )
        case .growthAtMost(let share):
            let growth = first == 0 ? (last == 0 ? 0 : .infinity) : (last - first) / first
            return result(growth <= share, range, "grew \(Format.percent(growth)), bound \(Format.percent(share))")
        case .increasesBy(let amount):
            return result(
                last - first >= amount,
                range,
                "grew by \(Format.number(last - first)), at least \(Format.number(amount)) needed"
            )
        }
    }
}

/// The verdict on App restarts caused by `app` steps.
extension Evaluator {
    func appRestart(
        exit: Int32?,
        within: Double,
        expectation: Expectation,
        result: Verdict
    ) -> RunReport.ExpectationResult {
        let window = self.window(expectation)
        let restarts = self.observed.restarts.filter { restart in
            window.contains { restart.at >= $0.start && restart.at < $0.end }
        }
        guard !restarts.isEmpty else { return result(false, "no App was signalled in the window", "") }
        var passed = true
        var observed: [String] = []
        var spare: [Double] = []
        for restart in restarts {
            let status = restart.exitStatus.map { "exited \($0)" } ?? "never seen to exit"
            passed = passed && restart.exitStatus != nil && (exit == nil || restart.exitStatus == exit)
            guard let ready = restart.readyAt else {
                passed = false
                observed.append("App \(restart.pid) (\(restart.signal)) \(status); no new App was ready")
                continue
            }
            let took = ready - restart.at
            passed = passed && took <= within
            spare.append(within - took)
            observed.append(
                "App \(restart.pid) (\(restart.signal)) \(status); App \(restart.newPID ?? 0) ready \(Format.seconds(took)) after the signal"
            )
        }
        let margin =
            spare.min().map { $0 >= 0 ? "\(Format.seconds($0)) to spare" : "\(Format.seconds(-$0)) late" } ?? ""
        return result(passed, observed.joined(separator: "; "), margin)
    }
}

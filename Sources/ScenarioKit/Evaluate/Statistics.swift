/// Per-phase and per-second figures of a run, and the live progress line.
enum Statistics {
    static func phases(
        _ scenario: Scenario,
        outcomes: [Outcome],
        findings: [RunReport.Finding],
        records: [RunReport.StepRecord]
    ) -> [RunReport.PhaseStats] {
        scenario.phases.map { phase in
            let inside = outcomes.filter { $0.due >= phase.start && $0.due < phase.end }
            let histogram = Evaluator.histogram(inside)
            let errors = findings.filter { $0.due >= phase.start && $0.due < phase.end }
            return RunReport.PhaseStats(
                name: phase.name,
                start: phase.start,
                end: phase.end,
                faults: records.filter { $0.phase == phase.name }.map(\.summary),
                requests: inside.count,
                rate: Double(inside.count) / phase.duration,
                results: Dictionary(grouping: inside, by: \.result).mapValues(\.count),
                p50: inside.isEmpty ? nil : Evaluator.percentile(histogram, 50),
                p99: inside.isEmpty ? nil : Evaluator.percentile(histogram, 99),
                max: inside.map(\.latency).max(),
                errors: errors.count,
                explained: errors.filter { $0.cause != nil }.count,
                explainedByConnection: errors.filter { $0.connection != nil }.count,
                unexplained: errors.filter { $0.cause == nil }.count
            )
        }
    }

    static func seconds(_ outcomes: [Outcome], duration: Double) -> [RunReport.Second] {
        var buckets = [[Outcome]](repeating: [], count: Int(duration.rounded(.up)))
        for outcome in outcomes where buckets.indices.contains(Int(outcome.due)) {
            buckets[Int(outcome.due)].append(outcome)
        }
        return buckets.enumerated().map { second, bucket in
            let histogram = Evaluator.histogram(bucket)
            return RunReport.Second(
                second: second,
                ok: bucket.filter { ($0.status ?? 0) < 400 && $0.status != nil }.count,
                clientErrors: bucket.filter { (400..<500).contains($0.status ?? 0) }.count,
                serverErrors: bucket.filter { ($0.status ?? 0) >= 500 }.count,
                failures: bucket.filter { $0.status == nil }.count,
                p50: bucket.isEmpty ? nil : Evaluator.percentile(histogram, 50),
                p99: bucket.isEmpty ? nil : Evaluator.percentile(histogram, 99)
            )
        }
    }
}

/// The one-second progress line on the terminal.
enum Progress {
    static func line(scenario: Scenario, now: Double, load: LoadGenerator, timeline: Timeline, alerts: String) -> String
    {
        let recent = load.outcomes(since: now - 1)
        let failed = recent.filter { !$0.succeeded }.count
        let p99 = recent.isEmpty ? "-" : Format.seconds(Evaluator.percentile(Evaluator.histogram(recent), 99))
        let phase = scenario.phase(at: now)?.name ?? "-"
        let errors = recent.isEmpty ? "-" : Format.percent(Double(failed) / Double(recent.count))
        let faults = timeline.active.isEmpty ? "none" : timeline.active.joined(separator: ", ")
        return
            "  [\(phase)] \(Int(now))/\(Int(scenario.duration)) s  \(recent.count) req/s  errors \(errors)  p99 \(p99)  faults: \(faults)  alerts: \(alerts)"
    }
}

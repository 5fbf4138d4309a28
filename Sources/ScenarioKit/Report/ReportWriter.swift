import Foundation

/// Writes a run's reports into one folder: `journal.json`, `junit.xml`, `summary.md` and
/// `report.html`.
public enum ReportWriter {
    public static func write(_ report: RunReport, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try self.journal(report).write(to: URL(fileURLWithPath: "\(directory)/journal.json"), options: .atomic)
        try self.junit([report]).write(toFile: "\(directory)/junit.xml", atomically: true, encoding: .utf8)
        try self.summary(report).write(toFile: "\(directory)/summary.md", atomically: true, encoding: .utf8)
        try self.html(report).write(toFile: "\(directory)/report.html", atomically: true, encoding: .utf8)
    }

    /// `report.html`: one self-contained page with the SVG timeline and every verdict.
    public static func html(_ report: RunReport) -> String { HTMLReport.render(report) }

    public static func journal(_ report: RunReport) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(report)
    }

    public static func decodeJournal(_ data: Data) throws -> RunReport {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(RunReport.self, from: data)
    }

    /// One testsuite per scenario; one testcase for the baseline, each expectation, the steady
    /// state after the faults, and the rollbacks.
    public static func junit(_ reports: [RunReport]) -> String {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
        for report in reports {
            let cases = self.cases(report)
            let failures = cases.filter { $0.failure != nil }.count
            let skipped = cases.filter(\.skipped).count
            let name = report.scenario + (report.control ? " (control)" : "")
            xml += "  <testsuite name=\"\(self.escape(name))\" tests=\"\(cases.count)\" failures=\"\(failures)\""
            xml += " skipped=\"\(skipped)\" time=\"\(Format.number(report.duration))\">\n"
            xml += "    <properties>\n"
            for (key, value) in [
                ("seed", String(report.seed)), ("revision", report.revision), ("control", String(report.control)),
                ("target", report.target.app), ("file", report.file),
            ] {
                xml += "      <property name=\"\(key)\" value=\"\(self.escape(value))\"/>\n"
            }
            xml += "    </properties>\n"
            for testcase in cases {
                xml += "    <testcase classname=\"\(self.escape(name))\" name=\"\(self.escape(testcase.name))\""
                if let failure = testcase.failure {
                    xml += ">\n      <failure message=\"\(self.escape(failure))\"/>\n    </testcase>\n"
                } else if testcase.skipped {
                    xml += ">\n      <skipped/>\n    </testcase>\n"
                } else {
                    xml += "/>\n"
                }
            }
            xml += "  </testsuite>\n"
        }
        return xml + "</testsuites>\n"
    }

    private struct Case {
        var name: String
        var failure: String?
        var skipped = false
    }

    private static func cases(_ report: RunReport) -> [Case] {
        var cases: [Case] = []
        let before = report.steadyStates.before.filter { !$0.passed }
        // Aborted after the baseline held (an interruption, a step that could not go on): the
        // baseline passed, and the run itself is what failed.
        let baselineHeld = !report.steadyStates.before.isEmpty && before.isEmpty
        if report.status == "aborted" && baselineHeld {
            cases.append(Case(name: "baseline: steady state before any fault", failure: nil))
            cases.append(Case(name: "run: the scenario ran to its end", failure: report.abortReason ?? "aborted"))
        } else if report.status == "aborted" {
            cases.append(
                Case(name: "baseline: steady state before any fault", failure: report.abortReason ?? "aborted")
            )
        } else {
            cases.append(
                Case(
                    name: "baseline: steady state before any fault",
                    failure: before.isEmpty ? nil : before.map { "\($0.name): \($0.observed)" }.joined(separator: "; ")
                )
            )
        }
        for expectation in report.expectations {
            let failure =
                expectation.verdict == "failed"
                ? [expectation.observed, expectation.margin].filter { !$0.isEmpty }.joined(separator: "; ") : nil
            cases.append(Case(name: "\(expectation.name)", failure: failure, skipped: expectation.verdict == "skipped"))
        }
        if report.status != "aborted" {
            let after = report.steadyStates.after.filter { !$0.passed }
            cases.append(
                Case(
                    name: "steady state after the last fault",
                    failure: after.isEmpty ? nil : after.map { "\($0.name): \($0.observed)" }.joined(separator: "; ")
                )
            )
        }
        let failedRollbacks = report.rollbacks.filter { $0.result != "ok" }
        cases.append(
            Case(
                name: "rollbacks ran",
                failure: failedRollbacks.isEmpty
                    ? nil : failedRollbacks.map { "\($0.name): \($0.result)" }.joined(separator: "; ")
            )
        )
        return cases
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The table a person reads in a terminal or a pull request.
    public static func summary(_ report: RunReport) -> String {
        let verdict = ["completed": "PASSED", "failed": "FAILED"][report.status] ?? "ABORTED"
        var text = "## \(report.title) — \(verdict)\n\n"
        text += "`\(report.scenario)`\(report.control ? " under `--control` (no faults)" : ""), seed \(report.seed),"
        text +=
            " \(Format.number(report.duration)) s against \(report.target.app), alerts recorded by \(report.alertSource)\n\n"
        if let reason = report.abortReason { text += "**Could not run:** \(reason)\n\n" }
        if !report.phases.isEmpty {
            text +=
                "| phase | faults | requests | req/s | p50 | p99 | errors (explained) |\n|---|---|---:|---:|---:|---:|---:|\n"
            for phase in report.phases {
                let faults = phase.faults.isEmpty ? "—" : phase.faults.joined(separator: "; ")
                text += "| \(phase.name) | \(faults) | \(phase.requests) | \(Format.number(phase.rate.rounded())) |"
                text += " \(phase.p50.map(Format.seconds) ?? "—") | \(phase.p99.map(Format.seconds) ?? "—") |"
                let byConnection =
                    phase.explainedByConnection > 0 ? ", \(phase.explainedByConnection) by connection" : ""
                text += " \(phase.errors) (\(phase.explained)\(byConnection)) |\n"
            }
            text += "\n"
        }
        text += "| verdict | expectation | observed | margin |\n|---|---|---|---|\n"
        for probe in report.steadyStates.before {
            text += "| \(probe.passed ? "ok" : "FAIL") | before: \(probe.name) | \(self.cell(probe.observed)) | |\n"
        }
        for expectation in report.expectations {
            let mark = ["passed": "ok", "skipped": "skip"][expectation.verdict] ?? "FAIL"
            text +=
                "| \(mark) | \(self.cell(expectation.name)) | \(self.cell(expectation.observed)) | \(self.cell(expectation.margin)) |\n"
        }
        for probe in report.steadyStates.after {
            text += "| \(probe.passed ? "ok" : "FAIL") | after: \(probe.name) | \(self.cell(probe.observed)) | |\n"
        }
        let rollbacks = report.rollbacks.filter { $0.result == "ok" }.count
        text += "\nRollbacks: \(rollbacks) of \(report.rollbacks.count) ran cleanly."
        text += " Fault decisions recorded: \(report.decisions.count).\n"
        return text
    }

    private static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}

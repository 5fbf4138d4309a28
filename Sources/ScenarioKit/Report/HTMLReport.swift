import Foundation

/// `report.html`: one self-contained page (no scripts, no network) with an SVG timeline of the
/// run (request rate by result, latency p50/p99, fault windows shaded, alerts firing as bars) and
/// every verdict.
enum HTMLReport {
    static func render(_ report: RunReport) -> String {
        let verdict = ["completed": "PASSED", "failed": "FAILED"][report.status] ?? "ABORTED"
        let color = ["completed": "#1a7f37", "failed": "#cf222e"][report.status] ?? "#9a6700"
        var html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <title>\(e(report.title)) — \(verdict)</title>
            <style>
            body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#1f2328;padding:0 16px}
            h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
            .verdict{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;background:\(color);font-weight:600}
            table{border-collapse:collapse;width:100%;margin:6px 0} th,td{border-bottom:1px solid #d0d7de;padding:5px 8px;text-align:left;vertical-align:top}
            th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
            .passed{color:#1a7f37;font-weight:600} .failed{color:#cf222e;font-weight:600} .skipped{color:#6e7781}
            .meta{color:#57606a} svg text{font:11px system-ui,sans-serif;fill:#57606a} code{background:#f6f8fa;padding:1px 4px}
            </style></head><body>
            <h1>\(e(report.title)) <span class="verdict">\(verdict)</span></h1>
            <p class="meta"><code>\(e(report.scenario))</code>\(report.control ? " under <b>--control</b> (every fault step skipped)" : "")
            · seed \(report.seed) · revision \(e(report.revision)) · started \(e(report.startedAt)) · \(Format.number(report.duration)) s
            against \(e(report.target.app))\(report.target.startedHere ? " (a lab started for this run)" : "")
            · alerts recorded by \(e(report.alertSource)) and replayed through promtool at 60×</p>

            """
        if let reason = report.abortReason { html += "<p class=\"failed\">Could not run: \(e(reason))</p>\n" }
        html += TimelineChart(report: report).svg()
        html += self.expectations(report)
        html += self.phases(report)
        html += self.steps(report)
        html += self.findings(report)
        return html + "</body></html>\n"
    }

    private static func expectations(_ report: RunReport) -> String {
        var html =
            "<h2>Expectations</h2>\n<table><tr><th>verdict</th><th>expectation</th><th>window</th><th>observed</th><th>margin</th></tr>\n"
        let probes =
            report.steadyStates.before.map { ("before: \($0.name)", $0) }
            + report.steadyStates.after.map { ("after: \($0.name)", $0) }
        for (name, probe) in probes {
            let verdict = probe.passed ? "passed" : "failed"
            html +=
                "<tr><td class=\"\(verdict)\">\(verdict)</td><td>steady state \(e(name))</td><td></td><td>\(e(probe.observed))</td><td></td></tr>\n"
        }
        for expectation in report.expectations {
            html +=
                "<tr><td class=\"\(expectation.verdict)\">\(expectation.verdict)</td><td>\(e(expectation.name))</td>"
            html +=
                "<td>\(e(expectation.window))</td><td>\(e(expectation.observed))</td><td>\(e(expectation.margin))</td></tr>\n"
        }
        return html + "</table>\n"
    }

    private static func phases(_ report: RunReport) -> String {
        var html =
            "<h2>Phases</h2>\n<table><tr><th>phase</th><th>time</th><th>faults</th><th>requests</th><th>req/s</th>"
        html +=
            "<th>results</th><th>p50</th><th>p99</th><th>errors</th><th>explained</th><th>by connection</th><th>unexplained</th></tr>\n"
        for phase in report.phases {
            let results = phase.results.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(
                separator: ", "
            )
            html += "<tr><td>\(e(phase.name))</td><td>\(Format.number(phase.start))–\(Format.number(phase.end)) s</td>"
            html += "<td>\(e(phase.faults.isEmpty ? "—" : phase.faults.joined(separator: "; ")))</td>"
            html +=
                "<td class=\"num\">\(phase.requests)</td><td class=\"num\">\(Format.number(phase.rate.rounded()))</td>"
            html += "<td>\(e(results))</td><td class=\"num\">\(phase.p50.map(Format.seconds) ?? "—")</td>"
            html +=
                "<td class=\"num\">\(phase.p99.map(Format.seconds) ?? "—")</td><td class=\"num\">\(phase.errors)</td>"
            html += "<td class=\"num\">\(phase.explained)</td><td class=\"num\">\(phase.explainedByConnection)</td>"
            html += "<td class=\"num\">\(phase.unexplained)</td></tr>\n"
        }
        return html + "</table>\n"
    }

    private static func steps(_ report: RunReport) -> String {
        var html =
            "<h2>Faults and rollbacks</h2>\n<table><tr><th>phase</th><th>step</th><th>applied</th><th>undone</th></tr>\n"
        for step in report.run {
            let applied =
                "\(step.appliedAt.map { Format.number(($0 * 10).rounded() / 10) + " s: " } ?? "")\(step.applied)"
            let undone = "\(step.undoneAt.map { Format.number(($0 * 10).rounded() / 10) + " s: " } ?? "")\(step.undone)"
            html +=
                "<tr><td>\(e(step.phase))</td><td>\(e(step.summary))</td><td>\(e(applied))</td><td>\(e(undone))</td></tr>\n"
        }
        if report.run.isEmpty {
            html += "<tr><td colspan=\"4\">no fault steps\(report.control ? " (--control)" : "")</td></tr>\n"
        }
        for rollback in report.rollbacks {
            html +=
                "<tr><td>rollback</td><td>\(e(rollback.name))</td><td colspan=\"2\">\(e(rollback.result))</td></tr>\n"
        }
        return html + "</table>\n"
    }

    private static func findings(_ report: RunReport) -> String {
        var html = "<h2>Unexplained errors</h2>\n"
        if report.unexplained.isEmpty {
            html += "<p>None: every failed or slow request is put down to a fault that was acting at the time.</p>\n"
        } else {
            html += "<table><tr><th>due</th><th>request</th><th>result</th><th>latency</th></tr>\n"
            for finding in report.unexplained {
                html +=
                    "<tr><td class=\"num\">\(Format.number((finding.due * 100).rounded() / 100)) s</td><td>\(e(finding.request))</td>"
                html += "<td>\(e(finding.result))</td><td class=\"num\">\(Format.seconds(finding.latency))</td></tr>\n"
            }
            html += "</table>\n"
        }
        html += "<h2>Fault decisions (\(report.decisions.count))</h2>\n"
        html +=
            "<p class=\"meta\">From Chaos's <code>/events</code> and FakeUpstream's journal; the same seed and file make the same decisions.</p>\n"
        html += "<table><tr><th>time</th><th>source</th><th>what</th><th>client</th><th>outcome</th></tr>\n"
        for decision in report.decisions.prefix(200) {
            html +=
                "<tr><td class=\"num\">\(Format.number((decision.time * 100).rounded() / 100)) s</td><td>\(e(decision.source))</td>"
            html +=
                "<td>\(e(decision.what))</td><td>\(e(decision.client ?? "—"))</td><td>\(e(decision.outcome))</td></tr>\n"
        }
        if report.decisions.count > 200 {
            html += "<tr><td colspan=\"5\">… \(report.decisions.count - 200) more in journal.json</td></tr>\n"
        }
        return html + "</table>\n"
    }

    static func e(_ text: String) -> String { ReportWriter.escape(text) }
}

/// The SVG timeline: three panels over the run's seconds sharing one x axis.
struct TimelineChart {
    let report: RunReport
    let width = 1060.0
    let left = 70.0
    let right = 20.0

    private var plotWidth: Double { self.width - self.left - self.right }

    private func x(_ second: Double) -> Double {
        self.left + self.plotWidth * min(max(second / max(self.report.duration, 1), 0), 1)
    }

    func svg() -> String {
        let alerts = self.report.alerts.keys.sorted()
        let rateTop = 30.0
        let rateHeight = 150.0
        let latencyTop = rateTop + rateHeight + 40
        let latencyHeight = 150.0
        let alertsTop = latencyTop + latencyHeight + 40
        let alertsHeight = Double(max(alerts.count, 1)) * 22
        let height = alertsTop + alertsHeight + 40
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" viewBox=\"0 0 \(f(self.width)) \(f(height))\" role=\"img\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
        // Fault windows, shaded over every panel.
        for step in self.report.run where step.applied == "ok" {
            guard let from = step.appliedAt else { continue }
            let until = step.undoneAt ?? self.report.duration
            svg +=
                "<rect x=\"\(f(self.x(from)))\" y=\"\(f(rateTop))\" width=\"\(f(max(1, self.x(until) - self.x(from))))\""
            svg +=
                " height=\"\(f(alertsTop + alertsHeight - rateTop))\" fill=\"#cf222e\" fill-opacity=\"0.08\"><title>\(HTMLReport.e(step.summary))</title></rect>\n"
        }
        // Phase boundaries.
        for phase in self.report.phases {
            svg += "<line x1=\"\(f(self.x(phase.start)))\" x2=\"\(f(self.x(phase.start)))\" y1=\"\(f(rateTop - 12))\""
            svg += " y2=\"\(f(alertsTop + alertsHeight))\" stroke=\"#8c959f\" stroke-dasharray=\"3,3\"/>\n"
            svg +=
                "<text x=\"\(f(self.x(phase.start) + 3))\" y=\"\(f(rateTop - 4))\">\(HTMLReport.e(phase.name))</text>\n"
        }
        svg += self.ratePanel(top: rateTop, height: rateHeight)
        svg += self.latencyPanel(top: latencyTop, height: latencyHeight)
        svg += self.alertPanel(alerts, top: alertsTop)
        // Fault names last, above the bars and lines they explain.
        for step in self.report.run where step.applied == "ok" {
            guard let from = step.appliedAt else { continue }
            svg +=
                "<text x=\"\(f(self.x(from) + 3))\" y=\"\(f(latencyTop - 6))\" style=\"fill:#cf222e\">\(HTMLReport.e(step.summary))</text>\n"
        }
        // Time axis.
        let step = self.report.duration > 120 ? 30.0 : self.report.duration > 40 ? 10.0 : 5.0
        var tick = 0.0
        while tick <= self.report.duration {
            svg +=
                "<text x=\"\(f(self.x(tick)))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">\(Int(tick)) s</text>\n"
            tick += step
        }
        return svg + "</svg>\n"
    }

    private func ratePanel(top: Double, height: Double) -> String {
        let seconds = self.report.seconds
        let peak = Double(max(1, seconds.map { $0.ok + $0.clientErrors + $0.serverErrors + $0.failures }.max() ?? 1))
        var svg =
            "<text x=\"4\" y=\"\(f(top + 10))\">req/s</text><text x=\"\(f(self.left - 6))\" y=\"\(f(top + 10))\" text-anchor=\"end\">\(Int(peak))</text>\n"
        svg +=
            "<line x1=\"\(f(self.left))\" x2=\"\(f(self.width - self.right))\" y1=\"\(f(top + height))\" y2=\"\(f(top + height))\" stroke=\"#d0d7de\"/>\n"
        let barWidth = max(1, self.plotWidth / max(self.report.duration, 1) - 1)
        let classes: [(KeyPath<RunReport.Second, Int>, String, String)] = [
            (\.ok, "#2da44e", "2xx/3xx"), (\.clientErrors, "#d4a72c", "4xx"), (\.serverErrors, "#cf222e", "5xx"),
            (\.failures, "#8250df", "no answer"),
        ]
        for second in seconds {
            var base = top + height
            for (path, color, label) in classes where second[keyPath: path] > 0 {
                let size = height * Double(second[keyPath: path]) / peak
                base -= size
                svg +=
                    "<rect x=\"\(f(self.x(Double(second.second))))\" y=\"\(f(base))\" width=\"\(f(barWidth))\" height=\"\(f(size))\""
                svg +=
                    " fill=\"\(color)\"><title>\(second.second) s: \(second[keyPath: path]) \(label)</title></rect>\n"
            }
        }
        var legend = self.left
        for (_, color, label) in classes {
            svg +=
                "<rect x=\"\(f(legend))\" y=\"\(f(top + height + 8))\" width=\"10\" height=\"10\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(f(legend + 14))\" y=\"\(f(top + height + 17))\">\(label)</text>\n"
            legend += 90
        }
        return svg
    }

    private func latencyPanel(top: Double, height: Double) -> String {
        let values = self.report.seconds.flatMap { [$0.p50, $0.p99] }.compactMap { $0 }
        let low = max(0.0001, (values.min() ?? 0.001) / 2)
        let high = max(low * 10, (values.max() ?? 1) * 1.5)
        func y(_ value: Double) -> Double {
            top + height - height * (log10(max(value, low)) - log10(low)) / (log10(high) - log10(low))
        }
        var svg = "<text x=\"4\" y=\"\(f(top + 10))\">latency</text>\n"
        for mark in [0.0001, 0.001, 0.01, 0.1, 1, 10] where mark >= low && mark <= high {
            svg +=
                "<line x1=\"\(f(self.left))\" x2=\"\(f(self.width - self.right))\" y1=\"\(f(y(mark)))\" y2=\"\(f(y(mark)))\" stroke=\"#eaeef2\"/>"
            svg +=
                "<text x=\"\(f(self.left - 6))\" y=\"\(f(y(mark) + 4))\" text-anchor=\"end\">\(Format.seconds(mark))</text>\n"
        }
        for (path, color, label, offset) in [
            (\RunReport.Second.p50, "#0969da", "p50", 0.0), (\RunReport.Second.p99, "#bf3989", "p99", 60.0),
        ] {
            let points = self.report.seconds.compactMap { second in
                second[keyPath: path].map { "\(f(self.x(Double(second.second) + 0.5))),\(f(y($0)))" }
            }
            svg +=
                "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\" points=\"\(points.joined(separator: " "))\"/>\n"
            svg +=
                "<rect x=\"\(f(self.left + offset))\" y=\"\(f(top + height + 8))\" width=\"10\" height=\"10\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(f(self.left + offset + 14))\" y=\"\(f(top + height + 17))\">\(label)</text>\n"
        }
        return svg
    }

    private func alertPanel(_ alerts: [String], top: Double) -> String {
        var svg = "<text x=\"4\" y=\"\(f(top - 6))\">alerts firing (replayed at 60×)</text>\n"
        if alerts.isEmpty {
            return svg + "<text x=\"\(f(self.left))\" y=\"\(f(top + 14))\">no alert fired</text>\n"
        }
        for (row, alert) in alerts.enumerated() {
            let y = top + Double(row) * 22
            svg +=
                "<text x=\"\(f(self.left + 4))\" y=\"\(f(y + 14))\" style=\"fill:#1f2328\">\(HTMLReport.e(alert))</text>\n"
            for second in self.report.alerts[alert] ?? [] {
                let width = min(
                    self.plotWidth / max(self.report.duration, 1),
                    self.width - self.right - self.x(Double(second))
                )
                guard width > 0 else { continue }
                svg += "<rect x=\"\(f(self.x(Double(second))))\" y=\"\(f(y + 2))\" width=\"\(f(width))\""
                svg +=
                    " height=\"16\" fill=\"#bc4c00\" fill-opacity=\"0.75\"><title>\(HTMLReport.e(alert)) firing at \(second) s</title></rect>\n"
            }
        }
        return svg
    }
}

private func f(_ value: Double) -> String { String(format: "%.1f", value) }

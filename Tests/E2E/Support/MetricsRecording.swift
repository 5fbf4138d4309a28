import Foundation
import Synchronization
import TestSupport

/// Records the App's metrics once a second while a scenario runs (through a real Prometheus when
/// Debian's `prometheus` is installed, else by scraping `/metrics` itself), then replays the
/// recording through `promtool test rules` against the unmodified `ops/alerts/rules.yaml`, with
/// time compressed 60×: second N becomes minute N of rule time. Counters (and histogram buckets)
/// are multiplied by 60 so that per-second rates stay what they really were.
final class MetricsRecording: Sendable {
    /// The series the alert rules read.
    static let recorded: Set<String> = [
        "http_requests_total", "http_request_latency_seconds_bucket", "db_ok", "upstream_ok",
        "last_refresh_age_seconds",
    ]

    /// The recording so far, shared with the scraping task.
    private final class Scrapes: Sendable {
        let list = Mutex<[[String: Double]]>([])
    }

    private let store = Scrapes()
    private let task: Task<Void, Never>?
    private let prometheus: PrometheusServer?
    private let started: Double
    /// Who recorded: "prometheus" or "scraper".
    var source: String { self.prometheus == nil ? "scraper" : "prometheus" }

    /// Starts recording `app`.
    init(app: String) async throws {
        self.prometheus = try await PrometheusServer.start(scraping: app)
        self.started = Date().timeIntervalSince1970
        guard self.prometheus == nil else {
            self.task = nil
            return
        }
        let store = self.store
        self.task = Task {
            while !Task.isCancelled {
                let started = ContinuousClock.now
                let text = (try? await fetch("\(app)/metrics").body) ?? ""
                store.list.withLock { $0.append(Self.parse(text)) }
                // A sampling period, not a wait for something: one scrape per second of the run.
                try? await Task.sleep(until: started + .seconds(1))
            }
        }
    }

    /// Stops recording; returns how many seconds were recorded.
    @discardableResult
    func stop() async throws -> Int {
        if let prometheus {
            // Let the last second's scrape land before reading the range back.
            let end = Date().timeIntervalSince1970
            _ = await eventually(timeout: .seconds(5)) {
                let answer = try? await fetch("\(prometheus.url)/api/v1/query?query=timestamp(up)")
                let result = (answer?.json["data"] as? [String: Any])?["result"] as? [[String: Any]]
                let value = ((result?.first?["value"] as? [Any])?.last as? String).flatMap(Double.init) ?? 0
                return value >= end
            }
            let points = try await prometheus.series(Self.recorded, from: self.started, to: end)
            prometheus.stop()
            self.store.list.withLock { $0 = points }
        } else if let task {
            task.cancel()
            await task.value
        }
        return self.store.list.withLock { $0.count }
    }

    /// `name{labels} value` lines of the series the rules use, keyed by `name{labels}`.
    static func parse(_ exposition: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            let series = String(line[..<space])
            let name = String(series.prefix { $0 != "{" })
            guard Self.recorded.contains(name) else { continue }
            samples[series] = Double(line[line.index(after: space)...])
        }
        return samples
    }

    /// The estimated p95 of `/characters` between the first and the last scrape, from the
    /// histogram's buckets (seconds); nil without requests.
    func p95Characters() -> Double? {
        let (first, last) = self.store.list.withLock { ($0.first ?? [:], $0.last ?? [:]) }
        var buckets: [(Double, Double)] = []
        for (series, value) in last
        where series.hasPrefix("http_request_latency_seconds_bucket{") && series.contains(#"path="/characters""#) {
            guard let le = series.range(of: #"le=""#).map({ series[$0.upperBound...].prefix { $0 != "\"" } }) else {
                continue
            }
            buckets.append((le == "+Inf" ? .infinity : Double(le) ?? .nan, value - (first[series] ?? 0)))
        }
        buckets.sort { $0.0 < $1.0 }
        guard let total = buckets.last?.1, total > 0 else { return nil }
        return buckets.first { $0.1 >= 0.95 * total }?.0
    }

    /// Replays the recording and checks the `ALERTS` series: every alert in `firing` fired at some
    /// point; with `firing` empty, no alert fired at all. Returns promtool's complaint, or nil.
    func replay(expectFiring firing: [String]) throws -> String? {
        let scrapes = self.store.list.withLock { $0 }
        guard scrapes.count >= 3 else { return "only \(scrapes.count) scrapes recorded" }
        let series = Set(scrapes.flatMap(\.keys)).sorted()
        var input = ""
        for key in series {
            let name = String(key.prefix { $0 != "{" })
            let scale = name.hasSuffix("_total") || name.hasSuffix("_bucket") ? 60.0 : 1.0
            let values = scrapes.map { scrape in scrape[key].map { Self.format($0 * scale) } ?? "_" }
            input += "      - series: '\(Self.withLabels(key))'\n        values: '\(values.joined(separator: " "))'\n"
        }
        let minutes = scrapes.count - 1
        let selector = firing.isEmpty ? "" : #",alertname=~"\#(firing.joined(separator: "|"))""#
        var file = "rule_files:\n  - \(Self.rulesPath)\nevaluation_interval: 1m\ntests:\n"
        file += "  - interval: 1m\n    input_series:\n" + input
        file += "    promql_expr_test:\n"
        file +=
            "      - expr: 'count by (alertname) (max_over_time(ALERTS{alertstate=\"firing\"\(selector)}[\(minutes + 1)m]))'\n"
        file += "        eval_time: \(minutes)m\n"
        if firing.isEmpty {
            file += "        exp_samples: []\n"
        } else {
            file += "        exp_samples:\n"
            for alert in firing.sorted() {
                file += "          - labels: '{alertname=\"\(alert)\"}'\n            value: 1\n"
            }
        }
        let path = NSTemporaryDirectory() + "rm-replay-\(UUID().uuidString.prefix(8)).yaml"
        try file.write(toFile: path, atomically: true, encoding: .utf8)
        let (status, output) = try runCommand(["/usr/bin/env", "promtool", "test", "rules", path])
        if status == 0 {
            try? FileManager.default.removeItem(atPath: path)
            return nil
        }
        return "promtool test rules \(path) failed:\n\(output.prefix(4000))"
    }

    /// `name{labels}` with the labels a scrape config would add.
    private static func withLabels(_ key: String) -> String {
        let extra = #"job="rickmorty-api",instance="lab""#
        guard let brace = key.firstIndex(of: "{") else { return "\(key){\(extra)}" }
        return "\(key[..<brace]){\(extra),\(key[key.index(after: brace)...])"
    }

    private static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return String(value)
    }

    static var rulesPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("ops/alerts/rules.yaml")
            .path
    }
}

import Foundation
import Native
import Synchronization
import SystemSupport

#if canImport(Glibc)
import Glibc
#endif

/// Records the App's metrics once a second while a scenario runs: through a real Prometheus when
/// Debian's `prometheus` is installed, else by scraping `/metrics` itself. Element i of the
/// recording holds the samples at second i, keyed by `name{labels}`.
public final class MetricsRecorder: Sendable {
    /// The series the alert rules read.
    public static let recorded: Set<String> = [
        "http_requests_total", "http_request_latency_seconds_bucket", "db_ok", "upstream_ok",
        "last_refresh_age_seconds",
    ]

    private let scrapes = Mutex<[[String: Double]]>([])
    private let stopped = Atomic<Bool>(false)
    private let scraperDone = Atomic<Bool>(false)
    private let prometheus: PrometheusProcess?
    private let started: Double
    private let app: String
    private let names: Set<String>

    /// Who records: `prometheus` or `scraper`.
    public var source: String { self.prometheus == nil ? "scraper" : "prometheus" }

    /// Starts recording `app` (for Prometheus: once its first scrape has landed): the series the
    /// alert rules read, and those of the `extra` metric names.
    public init(
        app: String,
        extra: Set<String> = [],
        prometheus binary: String? = PrometheusProcess.installed,
        directory: String
    ) throws {
        self.app = app
        self.names = Self.recorded.union(extra)
        self.prometheus = try binary.map {
            try PrometheusProcess.start(binary: $0, scraping: app, directory: directory)
        }
        self.started = Date().timeIntervalSince1970
        guard self.prometheus == nil else { return }
        let thread = Thread { [self] in
            let http = CurlHTTPClient()
            while !self.stopped.load(ordering: .relaxed) {
                let started = ContinuousClock.now
                let text = (try? http.get("\(self.app)/metrics", timeout: 0.9)).map {
                    String(decoding: $0.body, as: UTF8.self)
                }
                self.scrapes.withLock { $0.append(Self.parse(text ?? "", names: self.names)) }
                // A sampling period, not a wait for something: one scrape per second of the run.
                let rest = ContinuousClock.now.duration(to: started + .seconds(1))
                if rest > .zero { Thread.sleep(forTimeInterval: LoadGenerator.seconds(rest)) }
            }
            self.scraperDone.store(true, ordering: .relaxed)
        }
        thread.start()
    }

    /// The recording so far, without stopping (for the live alert line).
    public func snapshot() -> [[String: Double]] {
        if let prometheus {
            return (try? prometheus.series(self.names, from: self.started, to: Date().timeIntervalSince1970)) ?? []
        }
        return self.scrapes.withLock { $0 }
    }

    /// Stops recording without reading the recording (a run that ended early); once stopped,
    /// nothing more happens.
    public func discard() {
        self.stopped.store(true, ordering: .relaxed)
        self.prometheus?.stop()
    }

    /// Stops recording and returns the recording.
    public func stop() throws -> [[String: Double]] {
        if let prometheus {
            defer { prometheus.stop() }
            let end = Date().timeIntervalSince1970
            try prometheus.waitForScrape(after: end)
            let points = try prometheus.series(self.names, from: self.started, to: end)
            self.scrapes.withLock { $0 = points }
        } else {
            self.stopped.store(true, ordering: .relaxed)
            let deadline = Date().addingTimeInterval(3)
            while !self.scraperDone.load(ordering: .relaxed) && Date() < deadline { usleep(10_000) }
        }
        return self.scrapes.withLock { $0 }
    }

    /// `name{labels} value` lines of the series of `names`, keyed in ``MetricKey`` form.
    public static func parse(_ exposition: String, names: Set<String> = recorded) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            let series = String(line[..<space])
            guard names.contains(MetricKey.name(series)) else { continue }
            samples[MetricKey.normalize(series)] = Double(line[line.index(after: space)...])
        }
        return samples
    }
}

/// A real Prometheus scraping the App once a second into a throwaway TSDB.
public final class PrometheusProcess: Sendable {
    let url: String
    private let pid: pid_t
    private let directory: String
    private let http = CurlHTTPClient()
    private let stopped = Atomic<Bool>(false)

    /// The installed `prometheus` binary, if any.
    public static var installed: String? {
        ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func start(binary: String, scraping app: String, directory: String) throws -> PrometheusProcess {
        guard let target = URL(string: app), let host = target.host, let port = target.port else {
            throw RunFailure("the App URL \(app) has no host:port for Prometheus to scrape")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
        global:
          scrape_interval: 1s
          scrape_timeout: 900ms
        scrape_configs:
          - job_name: rickmorty-api
            static_configs:
              - targets: ["\(host):\(port)"]
        """.write(toFile: "\(directory)/prometheus.yml", atomically: true, encoding: .utf8)
        let listen = try LocalPorts.free()
        let pid = try Spawn.start(
            [
                binary, "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
                "--web.listen-address=127.0.0.1:\(listen)", "--log.level=warn",
            ],
            output: .append("\(directory)/prometheus.log")
        )
        let server = PrometheusProcess(url: "http://127.0.0.1:\(listen)", pid: pid, directory: directory)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let result = server.query("up{job=\"rickmorty-api\"}")
            if (result.first?["value"] as? [Any])?.last as? String == "1" { return server }
            if Spawn.exited(pid) != nil { break }
            usleep(100_000)
        }
        server.stop()
        throw RunFailure("Prometheus did not scrape \(app) within 30 s (see \(directory)/prometheus.log)")
    }

    private init(url: String, pid: pid_t, directory: String) {
        self.url = url
        self.pid = pid
        self.directory = directory
    }

    private func query(_ expression: String) -> [[String: Any]] {
        let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expression
        guard let exchange = try? self.http.get("\(self.url)/api/v1/query?query=\(encoded)", timeout: 2),
            let body = try? JSONSerialization.jsonObject(with: Data(exchange.body)) as? [String: Any]
        else { return [] }
        return (body["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
    }

    /// Waits (up to 5 s) until a scrape at or after `time` has landed.
    func waitForScrape(after time: Double) throws {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let value = ((self.query("timestamp(up)").first?["value"] as? [Any])?.last as? String).flatMap(Double.init)
            if (value ?? 0) >= time { return }
            usleep(100_000)
        }
    }

    /// Every series of `names` between `start` and `end` (Unix seconds), one point per second,
    /// keyed by `name{labels}` without `job` and `instance` (the replay adds its own).
    func series(_ names: Set<String>, from start: Double, to end: Double) throws -> [[String: Double]] {
        var points = [[String: Double]](repeating: [:], count: max(0, Int((end - start).rounded(.down))) + 1)
        for name in names.sorted() {
            let exchange = try self.http.get(
                "\(self.url)/api/v1/query_range?query=\(name)&start=\(start)&end=\(end)&step=1",
                timeout: 10
            )
            let body = (try? JSONSerialization.jsonObject(with: Data(exchange.body))) as? [String: Any]
            for series in (body?["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? [] {
                let labels = (series["metric"] as? [String: String] ?? [:])
                    .filter { !["__name__", "job", "instance"].contains($0.key) }
                    .sorted { $0.key < $1.key }
                    .map { "\($0.key)=\"\($0.value)\"" }
                let key = labels.isEmpty ? name : "\(name){\(labels.joined(separator: ","))}"
                for point in series["values"] as? [[Any]] ?? [] {
                    guard let time = point.first as? Double, let text = point.last as? String else { continue }
                    let index = Int((time - start).rounded())
                    if points.indices.contains(index) { points[index][key] = Double(text) }
                }
            }
        }
        return points
    }

    /// Stops Prometheus (once: later calls do nothing, so a reused process id is never signalled).
    func stop() {
        guard !self.stopped.exchange(true, ordering: .relaxed) else { return }
        Spawn.terminate(self.pid, grace: 10)
        try? FileManager.default.removeItem(atPath: "\(self.directory)/data")
    }
}

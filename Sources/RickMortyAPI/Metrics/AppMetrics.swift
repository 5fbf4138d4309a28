import Prometheus
import Synchronization

/// Every metric the App exposes (docs/api.md, "Metrics"), registered once in one registry. Every
/// name has `# HELP` and `# TYPE` from the first scrape: labelled counters are created at 0 for
/// every label value in ``MetricLabels``; series whose labels are open-ended (an HTTP status) are
/// created on first use and kept in a dictionary, so the hot path takes one short lock.
final class AppMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    static let latencyBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5]
    static let version = "0.1.0"

    // Gauges kept current by the background checks.
    let dbOK: Gauge
    let upstreamOK: Gauge
    let lastRefreshAge: Gauge
    let charactersStored: Gauge
    let circuitState: Gauge
    let inFlight: Gauge
    let cacheEntries: Gauge
    let ingestDuration: ValueHistogram
    let ingestLastSuccess: Gauge
    /// Cache hits, misses and puts on `/characters`, the only cached route, resolved once (hot path).
    let charactersCacheHits: Counter
    let charactersCacheMisses: Counter
    let charactersCachePuts: Counter
    let process: ProcessMetrics

    private struct RequestKey: Hashable {
        let path: String
        let method: String
        let status: Int
    }

    /// A request counter and its latency histogram (a struct, not a tuple: tuples in generic
    /// containers cost a runtime metadata lookup on every access).
    private struct RequestSeries {
        let counter: Counter
        let latency: ValueHistogram
    }

    private let requestSeries = Mutex<[RequestKey: RequestSeries]>([:])
    private let labelled = Mutex<[String: Counter]>([:])
    private let histograms = Mutex<[String: ValueHistogram]>([:])

    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: Self.descriptor(name, help))
        }
        self.dbOK = gauge("db_ok", "1 when the last database check succeeded, else 0.")
        self.upstreamOK = gauge("upstream_ok", "1 when the last upstream probe or ingest request succeeded, else 0.")
        self.lastRefreshAge = gauge(
            "last_refresh_age_seconds",
            "Seconds since the last successful refresh by any replica; +Inf if none ever succeeded."
        )
        self.charactersStored = gauge("characters_stored", "Characters in the database at the last check.")
        self.circuitState = gauge("upstream_circuit_state", "Upstream circuit breaker: 0 closed, 1 half-open, 2 open.")
        self.inFlight = gauge("http_requests_in_flight", "HTTP requests being served.")
        self.cacheEntries = gauge("page_cache_entries", "Pages held in the page cache.")
        self.ingestDuration = registry.makeValueHistogram(
            descriptor: Self.descriptor(
                "ingest_duration_seconds",
                "Duration of ingest runs that fetched from the upstream."
            ),
            labels: [],
            buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
        )
        self.ingestLastSuccess = gauge(
            "ingest_last_success_timestamp_seconds",
            "Unix time of this instance's last successful ingest."
        )
        registry.makeGauge(
            descriptor: Self.descriptor("build_info", "Build information; the value is always 1."),
            labels: [("version", Self.version)]
        ).set(to: 1)
        self.charactersCacheHits = registry.makeCounter(
            descriptor: Self.descriptor("page_cache_hits_total", "Pages served from the page cache."),
            labels: [("path", Route.characters.rawValue)]
        )
        self.charactersCacheMisses = registry.makeCounter(
            descriptor: Self.descriptor(
                "page_cache_misses_total",
                "Requests the page cache could not answer (read from the database)."
            ),
            labels: [("path", Route.characters.rawValue)]
        )
        self.charactersCachePuts = registry.makeCounter(
            descriptor: Self.descriptor("page_cache_puts_total", "Pages stored in the page cache."),
            labels: [("path", Route.characters.rawValue)]
        )
        self.process = ProcessMetrics(registry: registry)
        self.lastRefreshAge.set(to: .infinity)
        self.createLabelledSeries()
    }

    /// Creates every closed-set labelled series at 0 (see ``MetricLabels``).
    private func createLabelledSeries() {
        for (cache, op) in MetricLabels.cacheOperations { _ = self.cacheErrorCounter(cache: cache, op: op) }
        for (outcome, status) in MetricLabels.upstreamOutcomes {
            _ = self.upstreamRequestCounter(outcome: outcome, status: status)
        }
        for reason in MetricLabels.retryReasons { _ = self.upstreamRetryCounter(reason: reason) }
        for result in IngestResult.allCases { _ = self.ingestRunCounter(result: result) }
        for kind in MetricLabels.databaseErrorKinds { _ = self.dbErrorCounter(kind: kind) }
        for op in MetricLabels.databaseOperations { _ = self.dbQueryHistogram(op: op) }
    }

    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    // MARK: - HTTP

    /// Counts one finished request and records its latency under the route template `path`.
    /// One lock and one lookup per request: the counter and the histogram are cached together.
    func recordRequest(path: String, method: String, status: Int, seconds: Double) {
        let key = RequestKey(path: path, method: method, status: status)
        let series = self.requestSeries.withLock { series in
            if let found = series[key] { return found }
            let counter = self.registry.makeCounter(
                descriptor: Self.descriptor(
                    "http_requests_total",
                    "HTTP requests by route template, method and status."
                ),
                labels: [("path", path), ("method", method), ("status", String(status))]
            )
            let histogram = self.registry.makeValueHistogram(
                descriptor: Self.descriptor(
                    "http_request_latency_seconds",
                    "HTTP request latency by route template and method."
                ),
                labels: [("path", path), ("method", method)],
                buckets: Self.latencyBuckets
            )
            let created = RequestSeries(counter: counter, latency: histogram)
            series[key] = created
            return created
        }
        series.counter.increment()
        series.latency.record(seconds)
    }

    // MARK: - Labelled counters and histograms

    /// A counter with one fixed label set per name, created on first use.
    func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Counter {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        return self.labelled.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = self.registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
            counters[key] = counter
            return counter
        }
    }

    func upstreamRequest(outcome: String, status: String) {
        self.upstreamRequestCounter(outcome: outcome, status: status).increment()
    }
    func upstreamRetry(reason: String) { self.upstreamRetryCounter(reason: reason).increment() }
    func ingestRun(result: IngestResult) { self.ingestRunCounter(result: result).increment() }
    func dbError(kind: String) { self.dbErrorCounter(kind: kind).increment() }
    /// Records a database operation's duration under `op` (see ``MetricLabels/databaseOperations``).
    func dbQuery(op: String, seconds: Double) { self.dbQueryHistogram(op: op).record(seconds) }

    private func cacheErrorCounter(cache: String, op: String) -> Counter {
        self.counter(
            "cache_errors_total",
            "Page cache operations that failed (never failing a request).",
            [("cache", cache), ("op", op)]
        )
    }
    private func upstreamRequestCounter(outcome: String, status: String) -> Counter {
        self.counter(
            "upstream_requests_total",
            "Requests to the upstream API by outcome and status.",
            [("outcome", outcome), ("status", status)]
        )
    }
    private func upstreamRetryCounter(reason: String) -> Counter {
        self.counter(
            "upstream_retries_total",
            "Upstream requests retried, by the reason for the retry.",
            [("reason", reason)]
        )
    }
    private func ingestRunCounter(result: IngestResult) -> Counter {
        self.counter("ingest_runs_total", "Refresh attempts by result.", [("result", result.rawValue)])
    }
    private func dbErrorCounter(kind: String) -> Counter {
        self.counter("db_errors_total", "Database operations that failed, by kind.", [("kind", kind)])
    }
    private func dbQueryHistogram(op: String) -> ValueHistogram {
        self.histograms.withLock { histograms in
            if let histogram = histograms[op] { return histogram }
            let histogram = self.registry.makeValueHistogram(
                descriptor: Self.descriptor("db_query_duration_seconds", "Database operation duration by operation."),
                labels: [("op", op)],
                buckets: Self.latencyBuckets
            )
            histograms[op] = histogram
            return histogram
        }
    }

    /// The exposition text, with process metrics brought up to date first.
    func exposition() -> [UInt8] {
        self.process.update()
        return self.registry.emitToBuffer()
    }
}

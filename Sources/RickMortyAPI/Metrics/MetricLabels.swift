import Native

/// How one refresh attempt ended: the `result` label of `ingest_runs_total` and the `result`
/// of `/healthcheck`'s `checks.refresh`.
enum IngestResult: String, CaseIterable, Sendable {
    case success
    case failure
    case cancelled
    /// Another replica (or this one) refreshed within the interval.
    case skippedFresh = "skipped_fresh"
    /// Another replica holds the refresh lease.
    case skippedLocked = "skipped_locked"
}

/// Every label value the App's labelled counters can take where the set is closed, so that each
/// series exists at 0 from the first scrape (an alert on `rate()` or `absent()` sees it).
enum MetricLabels {
    /// `upstream_retries_total{reason}`.
    static var retryReasons: [String] { IngestError.retryableReasons }

    /// `upstream_requests_total{outcome,status}` pairs without an HTTP status to vary: a success,
    /// the open circuit and each transport failure (`http_error` series appear with their status).
    static var upstreamOutcomes: [(outcome: String, status: String)] {
        [("success", "200"), ("circuit_open", "none")]
            + HTTPTransportError.Kind.allCases.map { ($0.rawValue, "none") }
    }

    /// `db_errors_total{kind}`.
    static var databaseErrorKinds: [String] { DatabaseError.Kind.allCases.map(\.rawValue) }

    /// `db_query_duration_seconds{op}`: the page read and the background state check.
    static let databaseOperations = ["page", "state"]

    /// `cache_errors_total{cache,op}`. The page cache lives in process memory and none of its
    /// operations can fail today, so these stay at 0; the series are kept for dashboards and
    /// alerts written for the original service.
    static let cacheOperations: [(cache: String, op: String)] = [("page", "get"), ("page", "put")]
}

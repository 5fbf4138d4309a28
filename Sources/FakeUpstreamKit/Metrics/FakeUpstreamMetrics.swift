import Prometheus
import Synchronization

/// FakeUpstream's own `/metrics`: requests by route template, status and injected fault.
final class FakeUpstreamMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let counters = Mutex<[String: Counter]>([:])

    /// The route template of an API path, so raw ids never become label values.
    static func route(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        if trimmed == "/api" || trimmed == "/api/character" { return String(trimmed) }
        if trimmed.hasPrefix("/api/character/") { return "/api/character/{id}" }
        return "other"
    }

    func record(path: String, status: Int, fault: String) {
        let route = Self.route(path)
        let key = "\(route)|\(status)|\(fault)"
        let counter = self.counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = self.registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "fake_upstream_requests_total",
                    unitName: "",
                    helpText: "API requests by route template, status (0 = no response) and injected fault."
                ),
                labels: [("route", route), ("status", String(status)), ("fault", fault)]
            )
            counters[key] = counter
            return counter
        }
        counter.increment()
    }
}

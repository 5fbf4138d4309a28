import Prometheus
import Synchronization

/// The chaos server's `/metrics`: bytes relayed and connections per proxy, faults injected.
public final class ChaosMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let faults = Mutex<[String: Counter]>([:])

    /// One proxy's live series.
    struct ProxySeries: Sendable {
        let upstreamBytes: Counter
        let downstreamBytes: Counter
        let connections: Counter
        let active: Gauge
    }

    func series(proxy: String) -> ProxySeries {
        func bytes(_ direction: String) -> Counter {
            self.registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "chaos_proxy_bytes_total",
                    unitName: "",
                    helpText: "Bytes relayed by each proxy: upstream = client to server, downstream = server to client."
                ),
                labels: [("proxy", proxy), ("direction", direction)]
            )
        }
        return ProxySeries(
            upstreamBytes: bytes("upstream"),
            downstreamBytes: bytes("downstream"),
            connections: self.registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "chaos_proxy_connections_total",
                    unitName: "",
                    helpText: "Client connections accepted by each proxy."
                ),
                labels: [("proxy", proxy)]
            ),
            active: self.registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: "chaos_proxy_active_connections",
                    unitName: "",
                    helpText: "Client connections open through each proxy."
                ),
                labels: [("proxy", proxy)]
            )
        )
    }

    /// Counts one injected fault.
    func fault(proxy: String, toxic: String, kind: String) {
        let key = "\(proxy)|\(toxic)|\(kind)"
        let counter = self.faults.withLock { faults in
            if let counter = faults[key] { return counter }
            let counter = self.registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "chaos_faults_injected_total",
                    unitName: "",
                    helpText: "Faults injected, by proxy, toxic name and kind (the toxic type)."
                ),
                labels: [("proxy", proxy), ("toxic", toxic), ("kind", kind)]
            )
            faults[key] = counter
            return counter
        }
        counter.increment()
    }
}

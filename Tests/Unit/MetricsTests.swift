import HTTPTypes
import Hummingbird
import NIOCore
import NIOEmbedded
import Testing

@testable import RickMortyAPI

@Suite("Metrics exposition")
struct MetricsTests {
    private func lines(_ metrics: AppMetrics) -> [Substring] {
        String(decoding: metrics.exposition(), as: UTF8.self).split(separator: "\n")
    }

    @Test("before anything happened, every labelled counter already has HELP, TYPE and a 0 for each value")
    func everySeriesFromStart() {
        let lines = self.lines(AppMetrics())
        for name in [
            "cache_errors_total", "upstream_retries_total", "db_errors_total", "ingest_runs_total",
            "upstream_requests_total", "page_cache_misses_total", "page_cache_hits_total", "page_cache_puts_total",
        ] {
            #expect(lines.contains { $0.hasPrefix("# HELP \(name) ") }, "\(name) has no HELP")
            #expect(lines.contains("# TYPE \(name) counter"), "\(name) has no TYPE")
        }
        var expected = [
            #"cache_errors_total{cache="page",op="get"} 0"#, #"cache_errors_total{cache="page",op="put"} 0"#,
            #"upstream_retries_total{reason="429"} 0"#, #"upstream_retries_total{reason="5xx"} 0"#,
            #"upstream_requests_total{outcome="circuit_open",status="none"} 0"#,
            #"page_cache_misses_total{path="/characters"} 0"#,
        ]
        expected += IngestResult.allCases.map { #"ingest_runs_total{result="\#($0.rawValue)"} 0"# }
        expected += MetricLabels.databaseErrorKinds.map { #"db_errors_total{kind="\#($0)"} 0"# }
        expected += ["connect", "timeout", "reset", "protocol", "other"].map {
            #"upstream_retries_total{reason="\#($0)"} 0"#
        }
        for sample in expected { #expect(lines.contains(Substring(sample)), "\(sample) missing") }
        #expect(MetricLabels.databaseErrorKinds.contains("pool_exhausted"))
    }

    @Test("last_refresh_age_seconds is +Inf until a refresh is known, and its help text says so")
    func refreshAgeStartsInfinite() {
        let lines = self.lines(AppMetrics())
        // swift-prometheus writes the value as `inf`, which Prometheus's parser reads as +Inf.
        let sample = lines.first { $0.hasPrefix("last_refresh_age_seconds ") }
        #expect(sample.flatMap { Double($0.dropFirst("last_refresh_age_seconds ".count)) } == .infinity)
        let help = lines.first { $0.hasPrefix("# HELP last_refresh_age_seconds ") }
        #expect(help?.contains("+Inf") == true)
        #expect(help?.contains("-1") == false)
    }
}

@Suite("Page cache metrics: one request, one outcome")
struct CacheOutcomeTests {
    private func value(_ metrics: AppMetrics, _ sample: String) -> Double? {
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1))
        }
        return nil
    }

    @Test("an expired page served while the database is down counts as a hit only, and keeps max-age=0")
    func staleWhileDown() async throws {
        let clock = TestClock()
        let metrics = AppMetrics()
        let monitor = HealthMonitor()
        monitor.markMigrated()
        let store = SwitchableCharacterStore(snapshot: PageSnapshot(totalCount: 1, generation: 1, rows: [.rick]))
        let endpoint = CharactersEndpoint(
            store: store,
            cache: PageCache(capacity: 8, ttl: .seconds(30), clock: clock),
            metrics: metrics,
            monitor: monitor
        )
        let loop = EmbeddedEventLoop()
        func answer(_ query: Substring) async throws -> CharactersEndpoint<TestClock>.Answer {
            try await endpoint.answer(rawQuery: query, on: loop, noting: nil).value
        }
        let first = try await answer("page=1")
        #expect(first.cacheControl == "public, max-age=30")
        #expect(self.value(metrics, #"page_cache_misses_total{path="/characters"}"#) == 1)
        #expect(self.value(metrics, #"page_cache_puts_total{path="/characters"}"#) == 1)

        clock.advance(by: .seconds(31))
        store.goDown()
        let stale = try await answer("page=1")
        #expect(stale.cacheControl == "public, max-age=0")
        #expect(stale.page.etag == first.page.etag)
        #expect(self.value(metrics, #"page_cache_hits_total{path="/characters"}"#) == 1)
        #expect(self.value(metrics, #"page_cache_misses_total{path="/characters"}"#) == 1, "not also a miss")

        await #expect(throws: (any Error).self) { _ = try await answer("page=2") }
        #expect(self.value(metrics, #"page_cache_misses_total{path="/characters"}"#) == 2, "an uncached page is a miss")
    }
}

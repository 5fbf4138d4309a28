import AsyncHTTPClient
import Foundation
import NIOHTTP1
import TestSupport
import Testing

@testable import RickMortyAPI

extension Integration {
    @Suite("HTTP contract over real sockets")
    struct HTTPContractTests {
        private func withIngestedApp(
            _ overrides: [String: String] = [:],
            _ body: (RunningApp) async throws -> Void
        ) async throws {
            try await Backend.sqlite.withDatabase { database, _ in
                try await Harness.withFakeUpstream(characters: 200) { upstream, _ in
                    try await Harness.withApp(try Harness.appConfig(database: database, upstream: upstream, overrides))
                    { app in
                        #expect(await eventually { app.metric(#"ingest_runs_total{result="success"}"#) >= 1 })
                        try await body(app)
                    }
                }
            }
        }

        @Test("ETag, If-None-Match → 304, Cache-Control from the page cache, and HEAD without a body")
        func caching() async throws {
            try await self.withIngestedApp { app in
                let first = try await fetch("\(app.baseURL)/characters?page=1")
                #expect(first.status == 200)
                let etag = try #require(first.headers.first(name: "ETag"))
                #expect(etag.hasPrefix("\"") && etag.hasSuffix("\""), "a strong ETag")
                let cacheControl = try #require(first.headers.first(name: "Cache-Control"))
                #expect(cacheControl.hasPrefix("public, max-age="))
                #expect(Int(cacheControl.dropFirst("public, max-age=".count)).map { (0...30).contains($0) } == true)
                let again = try await fetch("\(app.baseURL)/characters?page=1", headers: [("If-None-Match", etag)])
                #expect(again.status == 304)
                #expect(again.body.isEmpty)
                let other = try await fetch(
                    "\(app.baseURL)/characters?page=1",
                    headers: [("If-None-Match", "\"nope\"")]
                )
                #expect(other.status == 200)
                let head = try await fetch("\(app.baseURL)/characters?page=1", method: .HEAD)
                #expect(head.status == 200)
                #expect(head.body.isEmpty)
                #expect(head.headers.first(name: "ETag") == etag)
                #expect(head.headers.first(name: "Content-Length") == first.headers.first(name: "Content-Length"))
                #expect(app.metric(#"page_cache_hits_total{path="/characters"}"#) >= 3)
            }
        }

        @Test("unknown paths are 404 and other methods 405, both as problem+json; every response has X-Request-ID")
        func errors() async throws {
            try await self.withIngestedApp { app in
                let missing = try await fetch("\(app.baseURL)/nope?x=1")
                #expect(missing.status == 404)
                #expect(missing.headers.first(name: "Content-Type") == "application/problem+json")
                #expect(missing.json["instance"] as? String == "/nope")
                #expect(missing.json["title"] as? String == "Not Found")
                for method in [HTTPMethod.POST, .PUT, .DELETE, .PATCH] {
                    let result = try await fetch("\(app.baseURL)/characters", method: method)
                    #expect(result.status == 405)
                    #expect(result.headers.first(name: "Allow") == "GET, HEAD")
                    #expect(result.json["status"] as? Int == 405)
                }
                let invalid = try await fetch("\(app.baseURL)/characters?page=1_0")
                #expect(invalid.status == 422)
                #expect((invalid.json["detail"] as? String)?.contains("page") == true)
                let echoed = try await fetch("\(app.baseURL)/healthz", headers: [("X-Request-ID", "req-42")])
                #expect(echoed.headers.first(name: "X-Request-ID") == "req-42")
                let generated = try await fetch("\(app.baseURL)/healthz")
                #expect(generated.headers.first(name: "X-Request-ID")?.count == 32)
                let root = try await fetch("\(app.baseURL)/")
                #expect(root.status == 307)
                #expect(root.headers.first(name: "Location") == "/docs")
                let docs = try await fetch("\(app.baseURL)/docs")
                #expect(docs.status == 200 && docs.body.contains("/openapi.json"))
                #expect(docs.headers.first(name: "Content-Type") == "text/html; charset=utf-8")
                #expect(docs.body.contains("page_size") && !docs.body.contains("<script"), "rendered on the server")
            }
        }

        @Test("metrics use route templates, never raw URLs, and pass promtool check metrics")
        func metrics() async throws {
            try await self.withIngestedApp { app in
                _ = try await fetch("\(app.baseURL)/characters?page=2&page_size=7")
                _ = try await fetch("\(app.baseURL)/some/random/path/12345")
                #expect(try await fetch("\(app.baseURL)/healthz", method: .POST).status == 405)
                let result = try await fetch("\(app.baseURL)/metrics")
                #expect(result.status == 200)
                #expect(result.headers.first(name: "Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
                #expect(result.body.contains(#"http_requests_total{path="/characters",method="GET",status="200"}"#))
                #expect(result.body.contains(#"http_requests_total{path="other",method="GET",status="404"}"#))
                #expect(!result.body.contains("12345"))
                #expect(result.body.contains(#"http_requests_total{path="/healthz",method="POST",status="405"} 1"#))
                #expect(!result.body.contains("page_size=7"))
                for name in [
                    "http_request_latency_seconds_bucket", "page_cache_misses_total", "db_ok 1", "upstream_ok 1",
                    "characters_stored",
                    "ingest_runs_total", "ingest_duration_seconds", "ingest_last_success_timestamp_seconds",
                    "db_query_duration_seconds",
                    "http_requests_in_flight", "build_info{version=", "process_resident_memory_bytes",
                    "process_open_fds",
                    "process_cpu_seconds_total", "process_start_time_seconds", "upstream_circuit_state",
                    "last_refresh_age_seconds",
                    "upstream_requests_total",
                ] {
                    #expect(result.body.contains(name), "\(name) missing")
                }
                let (status, output) = try promtoolCheckMetrics(result.body)
                #expect(status == 0, "promtool: \(output)")
            }
        }

        @Test("/openapi.json as served passes openapi-spec-validator")
        func openAPI() async throws {
            try await self.withIngestedApp { app in
                let document = try await fetch("\(app.baseURL)/openapi.json")
                #expect(document.status == 200)
                let path = NSTemporaryDirectory() + "rm-openapi-\(UUID().uuidString.prefix(8)).json"
                try document.body.write(toFile: path, atomically: true, encoding: .utf8)
                defer { try? FileManager.default.removeItem(atPath: path) }
                let (status, output) = try runCommand(["/usr/bin/env", "python3", "-m", "openapi_spec_validator", path])
                #expect(status == 0, "openapi-spec-validator: \(output)")
            }
        }

        @Test("per-client rate limit answers 429 with Retry-After and RateLimit headers; probes are exempt")
        func rateLimit() async throws {
            try await self.withIngestedApp(["RATE_LIMIT_RPS": "1", "RATE_LIMIT_BURST": "3"]) { app in
                var statuses: [Int] = []
                for _ in 0..<5 { statuses.append(try await fetch("\(app.baseURL)/characters").status) }
                #expect(statuses.prefix(3).allSatisfy { $0 == 200 })
                let limited = try await fetch("\(app.baseURL)/characters")
                #expect(limited.status == 429)
                #expect(limited.headers.first(name: "Retry-After").flatMap(Int.init).map { $0 >= 1 } == true)
                #expect(limited.headers.first(name: "RateLimit-Limit") == "3")
                #expect(limited.headers.first(name: "RateLimit-Remaining") == "0")
                for _ in 0..<10 { #expect(try await fetch("\(app.baseURL)/healthz").status == 200) }
            }
        }
    }
}

/// Runs `promtool check metrics` on an exposition (promtool comes with Debian's `prometheus`).
func promtoolCheckMetrics(_ exposition: String) throws -> (Int32, String) {
    let path = NSTemporaryDirectory() + "rm-metrics-\(UUID().uuidString.prefix(8)).txt"
    try exposition.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try runCommand(["/bin/sh", "-c", "promtool check metrics < \(path)"])
}

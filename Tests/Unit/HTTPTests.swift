import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Native
import SystemSupport
import Testing

@testable import RickMortyAPI

@Suite("Problem responses")
struct ProblemTests {
    let renderer = ProblemRenderer(retryAfterSeconds: 7)
    let logger = quietLogger

    private func body(_ response: Response) async throws -> String {
        try await ResponseCollector.text(response.body)
    }

    @Test("422 names the parameter, keys in the contract's order")
    func validation() async throws {
        let response = self.renderer.response(
            for: QueryValidationError(parameter: "page", detail: "page must be a decimal integer from 1 to 1000000"),
            path: "/characters",
            logger: self.logger
        )
        #expect(response.status.code == 422)
        #expect(response.headers[.contentType] == "application/problem+json")
        #expect(
            try await self.body(response)
                == #"{"type":"about:blank","title":"Unprocessable Content","status":422,"detail":"page must be a decimal integer from 1 to 1000000","instance":"/characters"}"#
        )
    }

    @Test(
        "every transient database failure is a 503 with Retry-After",
        arguments: [
            DatabaseError.Kind.connectFailed, .connectionLost, .timedOut, .busy, .readOnly, .tooManyConnections,
            .serverShutdown,
            .poolExhausted, .serialization,
        ]
    )
    func unavailable(kind: DatabaseError.Kind) async throws {
        let error = DatabaseError(kind: kind, message: "password=secret host=db SELECT * FROM characters")
        let response = self.renderer.response(for: error, path: "/characters", logger: self.logger)
        #expect(response.status == .serviceUnavailable)
        #expect(response.headers[.retryAfter] == "7")
        let body = try await self.body(response)
        #expect(!body.contains("secret") && !body.contains("SELECT"))
    }

    @Test("anything else is a generic 500 that leaks nothing")
    func generic() async throws {
        let response = self.renderer.response(
            for: DatabaseError(kind: .other, message: "syntax error at SELECT"),
            path: "/characters",
            logger: self.logger
        )
        #expect(response.status == .internalServerError)
        let body = try await self.body(response)
        #expect(!body.contains("SELECT"))
    }

    @Test("405 carries Allow: GET, HEAD; 429 carries Retry-After and RateLimit headers")
    func headers() {
        let notAllowed = self.renderer.response(
            for: HTTPFailure.methodNotAllowed,
            path: "/healthz",
            logger: self.logger
        )
        #expect(notAllowed.status == .methodNotAllowed)
        #expect(notAllowed.headers[.allow] == "GET, HEAD")
        let limited = self.renderer.response(
            for: HTTPFailure.rateLimited(retryAfter: 2, limit: 10),
            path: "/characters",
            logger: self.logger
        )
        #expect(limited.status == .tooManyRequests)
        #expect(limited.headers[.retryAfter] == "2")
        #expect(limited.headers[HTTPField.Name("RateLimit-Limit")!] == "10")
        #expect(limited.headers[HTTPField.Name("RateLimit-Remaining")!] == "0")
    }
}

@Suite("Request identity")
struct RequestIdentityTests {
    @Test("a sane X-Request-ID is echoed; anything else is replaced")
    func requestID() {
        #expect(RequestIdentity.requestID(from: "abc-123") == "abc-123")
        let forged = RequestIdentity.requestID(from: "a b\"c")
        #expect(forged != "a b\"c" && forged.count == 32)
        #expect(RequestIdentity.generate() != RequestIdentity.generate())
    }

    @Test("traceparent is parsed only when valid")
    func traceparent() {
        let valid = RequestIdentity.traceContext(from: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(valid?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(valid?.spanID == "00f067aa0ba902b7")
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "garbage",
        ] {
            #expect(RequestIdentity.traceContext(from: bad) == nil)
        }
    }
}

@Suite("Event loops per usable CPU")
struct UsableProcessorsTests {
    @Test("the CPUs of the affinity list are counted: single CPUs, ranges and both")
    func affinity() {
        let status = "Name:\tx\nCpus_allowed:\tff\nCpus_allowed_list:\t0-3,6,8-9\nMems_allowed:\t1\n"
        #expect(UsableProcessors.allowedCPUs(inStatus: status) == 7)
        #expect(UsableProcessors.allowedCPUs(inStatus: "Cpus_allowed_list:\t0\n") == 1)
        #expect(UsableProcessors.allowedCPUs(inStatus: "Cpus_allowed_list:\t3-1\n") == nil)
        #expect(UsableProcessors.allowedCPUs(inStatus: "nothing here") == nil)
        #expect((1...System.coreCount).contains(UsableProcessors.count))
    }
}

@Suite("Rate limiter")
struct RateLimiterTests {
    @Test("a client gets its burst, then waits for tokens; clients are independent")
    func buckets() {
        let clock = TestClock()
        let limiter = RateLimiter(rate: 2, burst: 3, clock: clock)
        for _ in 0..<3 { #expect(limiter.acquire(client: "a") == nil) }
        #expect(limiter.acquire(client: "a") == 1)
        #expect(limiter.acquire(client: "b") == nil)
        clock.advance(by: .milliseconds(500))
        #expect(limiter.acquire(client: "a") == nil)
        #expect(limiter.acquire(client: "a") != nil)
    }
}

@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    @Test("is JSON and describes every route, with 422, 429 and 503 on /characters")
    func coversRoutes() throws {
        let object = try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8))
        let document = try #require(object as? [String: Any])
        #expect((document["openapi"] as? String)?.hasPrefix("3.") == true)
        let paths = try #require(document["paths"] as? [String: Any])
        for route in Route.allCases { #expect(paths[route.rawValue] != nil, "\(route.rawValue) undocumented") }
        let characters = try #require((paths["/characters"] as? [String: Any])?["get"] as? [String: Any])
        let responses = try #require(characters["responses"] as? [String: Any])
        for status in ["200", "304", "422", "429", "500", "503"] { #expect(responses[status] != nil) }
    }
}

@Suite("Health report")
struct HealthReportTests {
    private func report(dbOK: Bool, upstreamOK: Bool, lastRefresh: Double?, now: Double = 1000) -> HealthReport {
        var database = HealthMonitor.DatabaseCheck()
        database.ok = dbOK
        database.state = DataState(count: 3, generation: 2, lastRefresh: lastRefresh)
        return HealthReport(
            database: database,
            refresh: .init(),
            backend: "sqlite",
            upstreamOK: upstreamOK,
            upstreamError: upstreamOK ? nil : "HTTP 503",
            circuit: "closed",
            refreshTTL: 600,
            workerEnabled: true,
            now: now
        )
    }

    @Test("ok, degraded and down")
    func status() {
        #expect(self.report(dbOK: true, upstreamOK: true, lastRefresh: 900).status == .ok)
        #expect(self.report(dbOK: true, upstreamOK: false, lastRefresh: 900).status == .degraded)
        #expect(
            self.report(dbOK: true, upstreamOK: true, lastRefresh: 100).status == .degraded,
            "older than REFRESH_TTL"
        )
        #expect(self.report(dbOK: true, upstreamOK: true, lastRefresh: nil).status == .degraded, "never refreshed")
        #expect(self.report(dbOK: false, upstreamOK: true, lastRefresh: 900).status == .down)
    }

    @Test("keys in the contract's order")
    func keys() {
        let text = String(
            decoding: self.report(dbOK: true, upstreamOK: true, lastRefresh: 900).encoded(),
            as: UTF8.self
        )
        #expect(
            text.hasPrefix(
                #"{"status":"ok","upstream_ok":true,"db_ok":true,"character_count":3,"last_refresh_age":100.0,"checks":{"db":"#
            )
        )
        #expect(text.contains(#""upstream":{"ok":true,"circuit":"closed","error":null}"#))
        #expect(text.contains(#""refresh":{"#))
    }
}

@Suite("The /docs page")
struct DocsPageTests {
    let html = DocsPage.html

    @Test("is rendered on the server: no script, a viewport for phones, a section per route")
    func structure() {
        #expect(!self.html.contains("<script"))
        #expect(self.html.contains(#"<meta name="viewport" content="width=device-width, initial-scale=1">"#))
        for route in Route.allCases {
            #expect(self.html.contains("<code>\(route.rawValue)</code></h2>"), "\(route.rawValue) has no section")
        }
    }

    @Test("parameters show type, range, allowed values and default; responses their headers and fields")
    func content() {
        for expected in [
            #"<td data-label="Accepts">integer, 1–100</td><td data-label="Default"><code>20</code></td>"#,
            #"<td data-label="Accepts">integer, 1–1000000</td><td data-label="Default"><code>1</code></td>"#,
            "one of: id, name", "one of: asc, desc", "<code>Retry-After</code> (integer, at least 0)",
            "<code>ETag</code> (string)", "<code>X-Request-ID</code> (string)", "<code>total_pages</code>",
            "<code>url</code> <span class=\"type\">string or null</span>", "Service Unavailable",
            "array of Character",
        ] {
            #expect(self.html.contains(expected), "missing: \(expected)")
        }
        let page = self.html.range(of: "<code>page</code> <span")?.lowerBound
        let pageSize = self.html.range(of: "<code>page_size</code> <span")?.lowerBound
        #expect(page != nil && pageSize != nil && page! < pageSize!, "fields in the body's key order")
    }

    @Test("text from the document is escaped")
    func escaping() {
        #expect(DocsPage.escape(#"<b a="1">&"#) == "&lt;b a=&quot;1&quot;&gt;&amp;")
        let rendered = DocsPage.render(#"{"info":{"title":"<x>"},"paths":{}}"#)
        #expect(rendered.contains("<h1>&lt;x&gt;</h1>"))
    }
}

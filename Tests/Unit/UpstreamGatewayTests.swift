import Logging
import Testing

@testable import RickMortyAPI

@Suite("Upstream gateway: retries, backoff and the breaker")
struct UpstreamGatewayTests {
    private func gateway(
        _ upstream: ScriptedUpstream,
        clock: TestClock,
        attempts: Int = 5,
        threshold: Int = 100,
        metrics: AppMetrics = AppMetrics()
    ) -> UpstreamGateway<TestClock> {
        UpstreamGateway(
            client: upstream,
            policy: RetryPolicy(maxAttempts: attempts, maxRetryAfter: .seconds(60)),
            breaker: CircuitBreaker(threshold: threshold, cooldown: .seconds(30)),
            clock: clock,
            metrics: metrics,
            logger: quietLogger,
            jitter: { 1 }
        )
    }

    @Test("backs off 0.5, 1, 2, 4 s between five attempts and does not sleep after the last")
    func backoffSchedule() async throws {
        let clock = TestClock()
        let upstream = ScriptedUpstream([.respond(status: 503)])
        await #expect(throws: IngestError.upstreamStatus(503, retryAfter: nil)) {
            try await self.gateway(upstream, clock: clock).fetch("http://u/character?page=1")
        }
        #expect(upstream.requests.count == 5)
        #expect(clock.sleeps == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4)])
    }

    @Test("honours Retry-After in seconds, capped by MAX_RETRY_AFTER, then succeeds")
    func retryAfter() async throws {
        let clock = TestClock()
        let upstream = ScriptedUpstream([
            .respond(status: 429, retryAfter: "7"), .respond(status: 503, retryAfter: "9999"),
            .respond(status: 200, body: "ok"),
        ])
        let body = try await self.gateway(upstream, clock: clock).fetch("http://u/x")
        #expect(body == Array("ok".utf8))
        #expect(clock.sleeps == [.seconds(7), .seconds(60)])
    }

    @Test("a 404 is not retried")
    func notRetried() async {
        let clock = TestClock()
        let upstream = ScriptedUpstream([.respond(status: 404)])
        await #expect(throws: IngestError.self) { try await self.gateway(upstream, clock: clock).fetch("http://u/x") }
        #expect(upstream.requests.count == 1)
        #expect(clock.sleeps.isEmpty)
    }

    @Test("transport failures are retried and counted in upstream_retries_total")
    func transport() async throws {
        let clock = TestClock()
        let metrics = AppMetrics()
        let upstream = ScriptedUpstream([.fail(kind: "reset"), .fail(kind: "timeout"), .respond(status: 200)])
        _ = try await self.gateway(upstream, clock: clock, metrics: metrics).fetch("http://u/x")
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(text.contains(#"upstream_retries_total{reason="reset"} 1"#))
        #expect(text.contains(#"upstream_retries_total{reason="timeout"} 1"#))
        #expect(text.contains(#"upstream_requests_total{outcome="success",status="200"} 1"#))
    }

    @Test("the last failure's reason is kept while the circuit is open and cleared by a success")
    func lastFailure() async throws {
        let clock = TestClock()
        let upstream = ScriptedUpstream([
            .respond(status: 503), .respond(status: 503), .fail(kind: "timeout"), .respond(status: 200),
        ])
        let gateway = self.gateway(upstream, clock: clock, attempts: 1, threshold: 3)
        #expect(gateway.lastFailure == nil)
        _ = await gateway.probe("http://u/api")
        #expect(gateway.lastFailure == "HTTP 503")
        _ = await gateway.probe("http://u/api")
        _ = await gateway.probe("http://u/api")
        #expect(gateway.circuitPhase == .open)
        #expect(gateway.lastFailure == "scripted timeout")
        _ = await gateway.probe("http://u/api")
        #expect(gateway.lastFailure == "scripted timeout", "a request the open circuit stopped says nothing new")
        clock.advance(by: .seconds(30))
        #expect(await gateway.probe("http://u/api"))
        #expect(gateway.lastFailure == nil)
    }

    @Test("the breaker opens after the threshold and then nothing is sent until the cooldown ends")
    func breaker() async throws {
        let clock = TestClock()
        let upstream = ScriptedUpstream([.respond(status: 500)])
        let gateway = self.gateway(upstream, clock: clock, attempts: 1, threshold: 3)
        for _ in 0..<3 { _ = await gateway.probe("http://u/api") }
        #expect(gateway.circuitPhase == .open)
        #expect(await gateway.probe("http://u/api") == false)
        #expect(upstream.requests.count == 3, "no request while open")
        clock.advance(by: .seconds(30))
        #expect(gateway.circuitPhase == .halfOpen)
        _ = await gateway.probe("http://u/api")
        #expect(upstream.requests.count == 4, "one trial request")
        #expect(gateway.circuitPhase == .open)
        #expect(gateway.upstreamOK == false)
    }
}

@Suite("Ingest walks pages and applies the rules")
struct IngestorTests {
    static func character(
        _ id: Int,
        species: String = "Human",
        status: String = "Alive",
        origin: String = "Earth (C-137)",
        name: String? = nil
    ) -> String {
        let name = name ?? "Character \(id)"
        return """
            {"id":\(id),"name":"\(name)","status":"\(status)","species":"\(species)","type":"","gender":"Male",
             "origin":{"name":"\(origin)","url":""},"location":{"name":"x","url":""},
             "image":"https://x/\(id).jpeg","episode":[],"url":"https://x/character/\(id)","created":"2017-11-04T18:48:46.250Z"}
            """
    }

    static func page(_ characters: [String], pages: Int, next: Bool) -> ScriptedUpstream.Step {
        .respond(
            status: 200,
            body:
                #"{"info":{"count":99,"pages":\#(pages),"next":\#(next ? "\"http://u/next\"" : "null"),"prev":null},"results":["#
                + characters.joined(separator: ",") + "]}"
        )
    }

    private func ingestor(_ upstream: ScriptedUpstream) -> Ingestor<TestClock> {
        let gateway = UpstreamGateway(
            client: upstream,
            policy: RetryPolicy(maxAttempts: 1),
            breaker: CircuitBreaker(threshold: 100, cooldown: .seconds(1)),
            clock: TestClock(),
            metrics: AppMetrics(),
            logger: quietLogger,
            jitter: { 0 }
        )
        return Ingestor(gateway: gateway, baseURL: "http://u/api", logger: quietLogger)
    }

    @Test("walks every page in order, keeping only Human, Alive, Earth (…) characters")
    func walk() async throws {
        let upstream = ScriptedUpstream([
            Self.page([Self.character(1), Self.character(2, species: "Alien")], pages: 3, next: true),
            Self.page(
                [Self.character(3, status: "Dead"), Self.character(4, origin: "Earthworm Moon")],
                pages: 3,
                next: true
            ),
            Self.page([Self.character(5, origin: "Earth (Replacement Dimension)")], pages: 3, next: false),
        ])
        let kept = try await self.ingestor(upstream).fetchAll()
        #expect(kept.map(\.id) == [1, 5])
        #expect(kept[1].origin == "Earth (Replacement Dimension)")
        #expect(
            upstream.requests == [
                "http://u/api/character?page=1", "http://u/api/character?page=2", "http://u/api/character?page=3",
            ]
        )
    }

    @Test("stops at info.pages even when next keeps pointing on")
    func boundedByPages() async throws {
        let upstream = ScriptedUpstream([Self.page([Self.character(1)], pages: 2, next: true)])
        _ = try await self.ingestor(upstream).fetchAll()
        #expect(upstream.requests.count == 2)
    }

    @Test("stops when next is null even if info.pages says more")
    func stopsAtNull() async throws {
        let upstream = ScriptedUpstream([Self.page([Self.character(1)], pages: 5, next: false)])
        _ = try await self.ingestor(upstream).fetchAll()
        #expect(upstream.requests.count == 1)
    }

    @Test(
        "a malformed page fails the run",
        arguments: [
            "not json", #"{"info":{}}"#,
            #"{"info":{"count":1,"pages":1,"next":null,"prev":null},"results":[{"id":"x"}]}"#,
        ]
    )
    func malformed(body: String) async {
        let upstream = ScriptedUpstream([.respond(status: 200, body: body)])
        await #expect(throws: IngestError.self) { try await self.ingestor(upstream).fetchAll() }
    }

    @Test(
        "a kept record that breaks a rule fails the run",
        arguments: [
            character(0), character(-3), character(7, name: ""), character(8, name: String(repeating: "x", count: 201)),
        ]
    )
    func invalidRecord(record: String) async {
        let upstream = ScriptedUpstream([Self.page([record], pages: 1, next: false)])
        await #expect(throws: IngestError.self) { try await self.ingestor(upstream).fetchAll() }
    }

    @Test("more pages than the hard cap fails the run before walking them")
    func cap() async {
        let upstream = ScriptedUpstream([Self.page([Self.character(1)], pages: 10_001, next: true)])
        await #expect(throws: IngestError.tooManyPages(10_001)) { try await self.ingestor(upstream).fetchAll() }
        #expect(upstream.requests.count == 1)
    }
}

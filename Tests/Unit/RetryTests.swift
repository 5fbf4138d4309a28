import Testing

@testable import RickMortyAPI

@Suite("Retry-After parsing")
struct RetryAfterTests {
    // Sun, 06 Nov 1994 08:49:37 GMT
    let epoch = 784_111_777.0

    @Test("delta-seconds")
    func seconds() {
        #expect(RetryAfter.parse("120", now: 0) == .seconds(120))
        #expect(RetryAfter.parse(" 7 ", now: 0) == .seconds(7))
        #expect(RetryAfter.parse("0", now: 0) == .zero)
    }

    @Test("HTTP-date in all three forms, measured from now")
    func dates() {
        let now = self.epoch - 30
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == .seconds(30))
        #expect(RetryAfter.parse("Sunday, 06-Nov-94 08:49:37 GMT", now: now) == .seconds(30))
        #expect(RetryAfter.parse("Sun Nov  6 08:49:37 1994", now: now) == .seconds(30))
    }

    @Test("a date in the past means no wait")
    func past() {
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: self.epoch + 100) == .zero)
    }

    @Test(
        "garbage is ignored",
        arguments: [
            "", "soon", "-5", "1.5", "+3", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "0x10",
        ]
    )
    func garbage(value: String) {
        #expect(RetryAfter.parse(value, now: 0) == nil)
    }

    @Test("huge values saturate instead of overflowing")
    func huge() throws {
        let parsed = try #require(RetryAfter.parse("99999999999999999999999999999", now: 0))
        #expect(parsed > .seconds(1_000_000))
    }
}

@Suite("Retry policy")
struct RetryPolicyTests {
    let policy = RetryPolicy(maxAttempts: 5, maxRetryAfter: .seconds(60))

    @Test("backoff ceilings double from 0.5 s to 8 s")
    func ceilings() {
        let ceilings = (1...7).map { self.policy.backoffCeiling(after: $0) }
        #expect(
            ceilings == [
                .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8),
            ]
        )
    }

    @Test("full jitter spans zero to the ceiling")
    func jitter() {
        let error = IngestError.transport(kind: "reset", message: "")
        #expect(self.policy.delay(after: 3, error: error, jitter: { 0 }) == .zero)
        #expect(self.policy.delay(after: 3, error: error, jitter: { 1 }) == .seconds(2))
        #expect(self.policy.delay(after: 3, error: error, jitter: { 0.5 }) == .seconds(1))
    }

    @Test("Retry-After wins over backoff, capped at MAX_RETRY_AFTER")
    func retryAfter() {
        #expect(
            self.policy.delay(after: 1, error: .upstreamStatus(429, retryAfter: .seconds(7)), jitter: { 0 })
                == .seconds(7)
        )
        #expect(
            self.policy.delay(after: 1, error: .upstreamStatus(503, retryAfter: .seconds(3600)), jitter: { 0 })
                == .seconds(60)
        )
    }

    @Test("no retry after the last attempt, on other 4xx or on bad JSON")
    func noRetry() {
        #expect(self.policy.delay(after: 5, error: .upstreamStatus(503, retryAfter: nil), jitter: { 1 }) == nil)
        #expect(self.policy.delay(after: 1, error: .upstreamStatus(404, retryAfter: nil), jitter: { 1 }) == nil)
        #expect(self.policy.delay(after: 1, error: .upstreamStatus(400, retryAfter: .seconds(1)), jitter: { 1 }) == nil)
        #expect(self.policy.delay(after: 1, error: .invalidJSON(url: "u", detail: "d"), jitter: { 1 }) == nil)
        #expect(self.policy.delay(after: 1, error: .circuitOpen, jitter: { 1 }) == nil)
    }

    @Test("429, 5xx and transport failures are retried", arguments: [429, 500, 502, 503, 504, 599])
    func retryable(status: Int) {
        #expect(IngestError.upstreamStatus(status, retryAfter: nil).isRetryable)
    }
}

@Suite("Circuit breaker state machine")
struct CircuitBreakerTests {
    typealias Instant = TestClock.Instant
    let start = Instant(offset: .zero)

    @Test("opens after threshold consecutive failures and refuses during the cooldown")
    func opens() {
        var breaker = CircuitBreaker<Instant>(threshold: 3, cooldown: .seconds(30))
        for _ in 0..<2 {
            let allowed = breaker.allowRequest(at: self.start)
            #expect(allowed)
            breaker.record(success: false, at: self.start)
        }
        #expect(breaker.phase(at: self.start) == .closed)
        let third = breaker.allowRequest(at: self.start)
        #expect(third)
        breaker.record(success: false, at: self.start)
        #expect(breaker.phase(at: self.start) == .open)
        let duringCooldown = breaker.allowRequest(at: self.start.advanced(by: .seconds(29)))
        #expect(!duringCooldown)
    }

    @Test("a success resets the failure count")
    func successResets() {
        var breaker = CircuitBreaker<Instant>(threshold: 2, cooldown: .seconds(30))
        breaker.record(success: false, at: self.start)
        breaker.record(success: true, at: self.start)
        breaker.record(success: false, at: self.start)
        #expect(breaker.phase(at: self.start) == .closed)
    }

    @Test("after the cooldown exactly one trial goes out; its outcome closes or re-opens")
    func halfOpen() {
        var breaker = CircuitBreaker<Instant>(threshold: 1, cooldown: .seconds(30))
        breaker.record(success: false, at: self.start)
        let later = self.start.advanced(by: .seconds(30))
        #expect(breaker.phase(at: later) == .halfOpen)
        let trial = breaker.allowRequest(at: later)
        let second = breaker.allowRequest(at: later)
        #expect(trial)
        #expect(!second, "only one trial at a time")
        breaker.record(success: false, at: later)
        #expect(breaker.phase(at: later) == .open)
        let evenLater = later.advanced(by: .seconds(30))
        let nextTrial = breaker.allowRequest(at: evenLater)
        #expect(nextTrial)
        breaker.record(success: true, at: evenLater)
        #expect(breaker.phase(at: evenLater) == .closed)
        #expect(CircuitBreaker<Instant>.Phase.open.gaugeValue == 2)
        #expect(CircuitBreaker<Instant>.Phase.halfOpen.gaugeValue == 1)
    }
}

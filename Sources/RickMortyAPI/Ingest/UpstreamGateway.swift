import Foundation
import Logging
import Prometheus
import Synchronization

/// Every call to the upstream goes through here: the circuit breaker, retries with backoff that
/// honour `Retry-After`, the `upstream_*` metrics and the `upstream_ok` signal used by health.
final class UpstreamGateway<C: Clock>: Sendable where C.Duration == Duration {
    private let client: any UpstreamClient
    private let policy: RetryPolicy
    private let clock: C
    private let metrics: AppMetrics
    private let logger: Logger
    private let jitter: @Sendable () -> Double
    private let breaker: Mutex<CircuitBreaker<C.Instant>>
    private let last = Mutex<LastOutcome>(LastOutcome())

    /// The most recent request that reached the upstream (a request the open circuit stopped is
    /// not one): whether it said the upstream is well and, if not, why.
    private struct LastOutcome {
        var ok: Bool?
        var failure: String?
    }

    init(
        client: any UpstreamClient,
        policy: RetryPolicy,
        breaker: CircuitBreaker<C.Instant>,
        clock: C,
        metrics: AppMetrics,
        logger: Logger,
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }
    ) {
        self.client = client
        self.policy = policy
        self.breaker = Mutex(breaker)
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
        self.jitter = jitter
    }

    /// The outcome of the most recent upstream request (nil before the first).
    var upstreamOK: Bool? { self.last.withLock { $0.ok } }

    /// Why the most recent upstream request failed ("HTTP 503", "timeout after 10 s"), nil
    /// while it succeeded. It stays while the circuit is open: that is why it opened.
    var lastFailure: String? { self.last.withLock { $0.failure } }

    /// The breaker's phase now.
    var circuitPhase: CircuitBreaker<C.Instant>.Phase {
        let now = self.clock.now
        return self.breaker.withLock { $0.phase(at: now) }
    }

    /// GETs `url` and returns a 200 response's body, retrying as ``RetryPolicy`` says.
    func fetch(_ url: String) async throws -> [UInt8] {
        var attempt = 1
        while true {
            do {
                return try await self.attempt(url)
            } catch let error as IngestError {
                guard let delay = self.policy.delay(after: attempt, error: error, jitter: self.jitter) else {
                    throw error
                }
                self.metrics.upstreamRetry(reason: error.reason)
                self.logger.warning(
                    "upstream request failed; retrying",
                    metadata: [
                        "upstream.url": "\(url)", "upstream.attempt": "\(attempt)", "upstream.error": "\(error)",
                        "upstream.retry_in_seconds": "\(delay.seconds)",
                    ]
                )
                try await self.clock.sleep(for: delay)
                attempt += 1
            }
        }
    }

    /// One request through the breaker, no retry: what the background probe uses.
    func probe(_ url: String) async -> Bool {
        do {
            _ = try await self.attempt(url)
            return true
        } catch {
            return false
        }
    }

    private func attempt(_ url: String) async throws -> [UInt8] {
        let allowed = self.breaker.withLock { $0.allowRequest(at: self.clock.now) }
        guard allowed else {
            self.metrics.upstreamRequest(outcome: "circuit_open", status: "none")
            self.updateCircuitGauge()
            throw IngestError.circuitOpen
        }
        let result: Result<[UInt8], IngestError>
        do {
            let response = try await self.client.get(url)
            if response.status == 200 {
                result = .success(response.body)
            } else {
                let wait = response.retryAfter.flatMap { RetryAfter.parse($0, now: Date().timeIntervalSince1970) }
                result = .failure(.upstreamStatus(response.status, retryAfter: wait))
            }
            self.metrics.upstreamRequest(
                outcome: response.status == 200 ? "success" : "http_error",
                status: String(response.status)
            )
        } catch let error as IngestError {
            result = .failure(error)
            self.metrics.upstreamRequest(outcome: error.reason, status: "none")
        }
        // Only failures that say the upstream is unwell count against the breaker: a 404 is an answer.
        let healthy: Bool
        switch result {
        case .success: healthy = true
        case .failure(let error): healthy = !error.isRetryable
        }
        self.breaker.withLock { $0.record(success: healthy, at: self.clock.now) }
        self.last.withLock { last in
            last.ok = healthy
            if case .failure(let error) = result { last.failure = error.summary } else { last.failure = nil }
        }
        self.metrics.upstreamOK.set(to: healthy ? 1 : 0)
        self.updateCircuitGauge()
        return try result.get()
    }

    private func updateCircuitGauge() {
        self.metrics.circuitState.set(to: self.circuitPhase.gaugeValue)
    }
}

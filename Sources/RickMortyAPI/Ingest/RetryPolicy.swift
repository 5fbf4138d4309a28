/// When to try an upstream request again (docs/api.md, "Ingest"): `maxAttempts` in total; honour
/// `Retry-After` up to `maxRetryAfter`; otherwise exponential backoff from 0.5 s doubling to 8 s
/// with full jitter; never a sleep after the last attempt.
struct RetryPolicy: Sendable {
    var maxAttempts = 5
    var maxRetryAfter: Duration = .seconds(60)
    var baseDelay: Duration = .milliseconds(500)
    var maxDelay: Duration = .seconds(8)

    /// The delay before attempt `attempt + 1`, or nil when there is none to make.
    /// - Parameter jitter: returns a uniform random number in `0...1`.
    func delay(after attempt: Int, error: IngestError, jitter: () -> Double) -> Duration? {
        guard attempt < self.maxAttempts, error.isRetryable else { return nil }
        if case .upstreamStatus(_, let retryAfter?) = error {
            return min(retryAfter, self.maxRetryAfter)
        }
        return self.backoffCeiling(after: attempt) * min(1, max(0, jitter()))
    }

    /// The upper bound of the jittered backoff after `attempt` (1-based): 0.5, 1, 2, 4, 8, 8, …
    func backoffCeiling(after attempt: Int) -> Duration {
        let doublings = min(max(attempt - 1, 0), 30)
        return min(self.baseDelay * (1 << doublings), self.maxDelay)
    }
}

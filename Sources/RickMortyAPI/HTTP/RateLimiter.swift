import Synchronization

/// Per-client token buckets: `rate` tokens a second up to `burst`. Idle buckets are pruned so
/// memory stays bounded by the number of recently active clients.
final class RateLimiter<C: Clock>: Sendable where C.Duration == Duration {
    private struct Bucket {
        var tokens: Double
        var updated: C.Instant
    }

    let rate: Double
    let burst: Double
    private let clock: C
    private let buckets = Mutex<[String: Bucket]>([:])
    private static var maxClients: Int { 100_000 }

    init(rate: Double, burst: Double, clock: C) {
        self.rate = rate
        self.burst = max(1, burst > 0 ? burst : rate * 2)
        self.clock = clock
    }

    /// Takes a token for `client`; when none is left, returns the whole seconds until one is.
    func acquire(client: String) -> Int? {
        let now = self.clock.now
        return self.buckets.withLock { buckets in
            if buckets.count >= Self.maxClients {
                // Full buckets carry no information; drop them first.
                buckets = buckets.filter { self.refill($0.value, now).tokens < self.burst }
            }
            var bucket = self.refill(buckets[client] ?? Bucket(tokens: self.burst, updated: now), now)
            defer { buckets[client] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / self.rate).rounded(.up)))
        }
    }

    private func refill(_ bucket: Bucket, _ now: C.Instant) -> Bucket {
        let elapsed = bucket.updated.duration(to: now).seconds
        return Bucket(tokens: min(self.burst, bucket.tokens + max(0, elapsed) * self.rate), updated: now)
    }
}

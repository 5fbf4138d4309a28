import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Native
import Prometheus

/// `GET /characters` (docs/api.md): validate, answer from the page cache when it can,
/// otherwise read one snapshot from the store, encode it once and cache the bytes.
///
/// Nothing here suspends: a cached page is answered at once, and a database read is a future
/// that completes on the caller's event loop, so ``CharactersHandler`` can serve the route
/// without leaving its event loop (the responder awaits the same future).
struct CharactersEndpoint<C: Clock>: Sendable where C.Duration == Duration {
    let store: any CharacterStore
    let cache: PageCache<C>
    let metrics: AppMetrics
    let monitor: HealthMonitor
    /// `public, max-age=N` for every N up to the cache's TTL (at most an hour), built once, so a
    /// hit takes one of these rather than formatting a new string.
    private let maxAgeValues: [String]

    init(store: any CharacterStore, cache: PageCache<C>, metrics: AppMetrics, monitor: HealthMonitor) {
        self.store = store
        self.cache = cache
        self.metrics = metrics
        self.monitor = monitor
        let longest = min(max(0, Int(cache.ttl.seconds.rounded(.up))), 3600)
        self.maxAgeValues = (0...longest).map { "public, max-age=\($0)" }
    }

    private func cacheControl(maxAge: Int) -> String {
        let seconds = max(0, maxAge)
        return seconds < self.maxAgeValues.count ? self.maxAgeValues[seconds] : "public, max-age=\(seconds)"
    }

    /// A page to send and how long clients may keep it.
    struct Answer: Sendable {
        let page: CachedPage
        let cacheControl: String
    }

    /// An answer now (a fresh page from the cache) or once the database has answered.
    enum Outcome {
        case ready(Answer)
        case pending(EventLoopFuture<Answer>)

        var value: Answer {
            get async throws {
                switch self {
                case .ready(let answer): return answer
                case .pending(let future): return try await future.get()
                }
            }
        }
    }

    /// Answers a request with the raw query string `rawQuery`. Throws for an invalid parameter
    /// (422); a database failure fails the pending future. Database work completes on `eventLoop`;
    /// `use` records the connections it used.
    func answer(
        rawQuery: Substring?,
        on eventLoop: any EventLoop,
        noting use: DatabaseUse?
    ) throws(QueryValidationError) -> Outcome {
        let query = try CharacterQuery.parse(QueryString.items(rawQuery))
        guard self.cache.isEnabled else {
            let cacheControl = self.cacheControl(maxAge: 0)
            return .pending(
                self.read(query, on: eventLoop, noting: use).map { Answer(page: $0, cacheControl: cacheControl) }
            )
        }
        // Each request counts once: a hit when the cache answered it, a miss when the database did
        // (or failed to).
        switch self.cache.lookup(query) {
        case .fresh(let page, let remaining):
            self.metrics.charactersCacheHits.increment()
            return .ready(Answer(page: page, cacheControl: self.cacheControl(maxAge: Int(remaining.seconds))))
        case .stale(let stale):
            let metrics = self.metrics
            let staleAnswer = Answer(page: stale, cacheControl: self.cacheControl(maxAge: 0))
            let loaded = self.readThroughCache(query, on: eventLoop, noting: use)
            return .pending(
                loaded.map { answer in
                    metrics.charactersCacheMisses.increment()
                    return answer
                }.flatMapErrorThrowing { error in
                    // The database cannot answer; a page of the current generation is still right,
                    // and the cache is what answered.
                    guard let error = error as? DatabaseError, error.isTransient else {
                        metrics.charactersCacheMisses.increment()
                        throw error
                    }
                    metrics.charactersCacheHits.increment()
                    return staleAnswer
                }
            )
        case .miss:
            self.metrics.charactersCacheMisses.increment()
            return .pending(self.readThroughCache(query, on: eventLoop, noting: use))
        }
    }

    /// Reads the page once for every concurrent request for it, and caches it.
    private func readThroughCache(
        _ query: CharacterQuery,
        on eventLoop: any EventLoop,
        noting use: DatabaseUse?
    ) -> EventLoopFuture<Answer> {
        let (cache, metrics) = (self.cache, self.metrics)
        let cacheControl = self.cacheControl(maxAge: Int(self.cache.ttl.seconds))
        return cache.load(query, on: eventLoop) { self.read(query, on: eventLoop, noting: use) }.map { loaded in
            if loaded.stored {
                metrics.charactersCachePuts.increment()
                metrics.cacheEntries.set(to: Double(cache.count))
            }
            return Answer(page: loaded.page, cacheControl: cacheControl)
        }
    }

    /// One page from the store.
    private func read(
        _ query: CharacterQuery,
        on eventLoop: any EventLoop,
        noting use: DatabaseUse?
    ) -> EventLoopFuture<CachedPage> {
        guard self.monitor.isMigrated else {
            // Before the schema exists a query would fail like a bug; it is a dependency not yet up.
            return eventLoop.makeFailedFuture(
                HTTPFailure.unavailable(detail: "The database is not ready yet; retry later.")
            )
        }
        let metrics = self.metrics
        let started = ContinuousClock.now
        return self.store.page(query, on: eventLoop, noting: use).map { snapshot in
            metrics.dbQuery(op: "page", seconds: (ContinuousClock.now - started).seconds)
            return Self.cachedPage(snapshot)
        }.flatMapErrorThrowing { error in
            if let error = error as? DatabaseError { metrics.dbError(kind: error.kind.rawValue) }
            throw error
        }
    }

    /// The snapshot's body as a cache entry, with its ETag.
    static func cachedPage(_ snapshot: PageSnapshot) -> CachedPage {
        let etag = "\"g\(snapshot.generation)-\(Self.bodyHash(snapshot.body))\""
        return CachedPage(body: ByteBuffer(bytes: snapshot.body), etag: etag, generation: snapshot.generation)
    }

    /// The response to a request that sent `ifNoneMatch`: 304 when it names the page's ETag.
    static func response(_ answer: Answer, ifNoneMatch: String?) -> Response {
        var headers = HTTPFields()
        // Room for the responder's X-Request-ID too: the fields array is allocated once.
        headers.reserveCapacity(4)
        headers[.eTag] = answer.page.etag
        headers[.cacheControl] = answer.cacheControl
        if let candidates = ifNoneMatch, Self.matches(candidates, answer.page.etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: answer.page.body))
    }

    /// `If-None-Match` uses the weak comparison: `W/` prefixes are ignored, `*` matches anything.
    static func matches(_ header: String, _ etag: String) -> Bool {
        for candidate in header.split(separator: ",") {
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            if tag == etag { return true }
        }
        return false
    }

    /// A 64-bit hash of the body, hex: FNV-1a's constants taken eight bytes at a time, with a
    /// shift that carries high bits down. Cheap (a page is hashed once, when it is read) and
    /// stable, which is all an ETag within one generation needs.
    static func bodyHash(_ bytes: [UInt8]) -> String {
        let hash = bytes.withUnsafeBytes { buffer -> UInt64 in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(buffer.count)
            var offset = 0
            while offset + 8 <= buffer.count {
                hash = (hash ^ buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x100_0000_01b3
                hash ^= hash >> 29
                offset += 8
            }
            while offset < buffer.count {
                hash = (hash ^ UInt64(buffer[offset])) &* 0x100_0000_01b3
                offset += 1
            }
            return hash ^ (hash >> 32)
        }
        return String(hash, radix: 16)
    }
}

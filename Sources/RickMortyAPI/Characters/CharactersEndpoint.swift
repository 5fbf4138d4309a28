import Foundation
import HTTPTypes
import Hummingbird
import Native
import Prometheus

/// `GET /characters` (docs/api.md): validate, answer from the page cache when it can,
/// otherwise read one snapshot from the store, encode it once and cache the bytes.
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

    func respond(to request: Request) async throws -> Response {
        let query = try CharacterQuery.parse(QueryString.items(request.uri.query))
        guard self.cache.isEnabled else { return try await self.loadAndRespond(query, request: request) }
        // Each request counts once: a hit when the cache answered it, a miss when the database did
        // (or failed to).
        switch self.cache.lookup(query) {
        case .fresh(let page, let remaining):
            self.metrics.charactersCacheHits.increment()
            return Self.response(
                page,
                cacheControl: self.cacheControl(maxAge: Int(remaining.seconds)),
                request: request
            )
        case .stale(let stale):
            do {
                let response = try await self.loadAndRespond(query, request: request)
                self.metrics.charactersCacheMisses.increment()
                return response
            } catch let error as DatabaseError where error.isTransient {
                // The database cannot answer; a page of the current generation is still right,
                // and the cache is what answered.
                self.metrics.charactersCacheHits.increment()
                return Self.response(stale, cacheControl: self.cacheControl(maxAge: 0), request: request)
            } catch {
                self.metrics.charactersCacheMisses.increment()
                throw error
            }
        case .miss:
            self.metrics.charactersCacheMisses.increment()
            return try await self.loadAndRespond(query, request: request)
        }
    }

    private func loadAndRespond(_ query: CharacterQuery, request: Request) async throws -> Response {
        guard self.monitor.isMigrated else {
            // Before the schema exists a query would fail like a bug; it is a dependency not yet up.
            throw HTTPFailure.unavailable(detail: "The database is not ready yet; retry later.")
        }
        let store = self.store
        let metrics = self.metrics
        let loader: @Sendable () async throws -> CachedPage = {
            let started = ContinuousClock.now
            do {
                let snapshot = try await store.page(query)
                metrics.dbQuery(op: "page", seconds: (ContinuousClock.now - started).seconds)
                return Self.encode(query: query, snapshot: snapshot)
            } catch let error as DatabaseError {
                metrics.dbError(kind: error.kind.rawValue)
                throw error
            }
        }
        guard self.cache.isEnabled else {
            return Self.response(try await loader(), cacheControl: self.cacheControl(maxAge: 0), request: request)
        }
        let (page, stored) = try await self.cache.load(query, loader)
        if stored {
            self.metrics.charactersCachePuts.increment()
            self.metrics.cacheEntries.set(to: Double(self.cache.count))
        }
        return Self.response(
            page,
            cacheControl: self.cacheControl(maxAge: Int(self.cache.ttl.seconds)),
            request: request
        )
    }

    static func encode(query: CharacterQuery, snapshot: PageSnapshot) -> CachedPage {
        let bytes = CharacterPage(query: query, totalCount: snapshot.totalCount, results: snapshot.rows).encoded()
        let etag = "\"g\(snapshot.generation)-\(Self.fnv1a(bytes))\""
        return CachedPage(body: ByteBuffer(bytes: bytes), etag: etag, generation: snapshot.generation)
    }

    static func response(_ page: CachedPage, cacheControl: String, request: Request) -> Response {
        var headers = HTTPFields()
        // Room for the responder's X-Request-ID too: the fields array is allocated once.
        headers.reserveCapacity(4)
        headers[.eTag] = page.etag
        headers[.cacheControl] = cacheControl
        if let candidates = request.headers[.ifNoneMatch], Self.matches(candidates, page.etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: page.body))
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

    /// 64-bit FNV-1a, hex: cheap and stable, enough to tell two bodies apart within a generation.
    static func fnv1a(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

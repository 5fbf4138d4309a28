import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import RickMortyAPI

@Suite("LRU store")
struct LRUStoreTests {
    @Test("evicts the least recently used entry")
    func eviction() {
        var store = LRUStore<Int, String>(capacity: 2)
        store.set(1, "a")
        store.set(2, "b")
        #expect(store.get(1) == "a")
        let evicted = store.set(3, "c")
        #expect(evicted == 2)
        #expect(store.get(2) == nil)
        #expect(store.get(1) == "a")
        #expect(store.get(3) == "c")
        #expect(store.count == 2)
    }

    @Test("removing and re-adding keeps the list consistent")
    func churn() {
        var store = LRUStore<Int, Int>(capacity: 3)
        for round in 0..<100 {
            store.set(round % 7, round)
            if round % 5 == 0 { store.removeValue(forKey: (round + 3) % 7) }
            #expect(store.count <= 3)
        }
        store.removeAll { $0 % 2 == 0 }
        for key in 0..<7 where key % 2 == 0 { #expect(store.get(key) == nil) }
    }

    @Test("capacity zero stores nothing")
    func zero() {
        var store = LRUStore<Int, Int>(capacity: 0)
        store.set(1, 1)
        #expect(store.get(1) == nil)
    }
}

@Suite("Page cache")
struct PageCacheTests {
    let query = CharacterQuery(page: 1)
    /// Runs every callback inline on the test's thread: no sockets, no threads.
    let loop = EmbeddedEventLoop()

    static func page(_ generation: Int64, _ text: String = "x") -> CachedPage {
        CachedPage(body: ByteBuffer(string: text), etag: "\"\(generation)\"", generation: generation)
    }

    /// Loads `query` with a loader that succeeds at once with `page`.
    private func load(
        _ cache: PageCache<TestClock>,
        _ query: CharacterQuery,
        _ page: CachedPage
    ) throws -> PageCache<TestClock>.Loaded {
        try cache.load(query, on: self.loop) { self.loop.makeSucceededFuture(page) }.wait()
    }

    @Test("a loaded page is fresh until the TTL, then stale")
    func ttl() throws {
        let clock = TestClock()
        let cache = PageCache(capacity: 4, ttl: .seconds(30), clock: clock)
        #expect(try self.load(cache, self.query, Self.page(0)).stored)
        guard case .fresh(_, let remaining) = cache.lookup(self.query) else {
            Issue.record("expected fresh")
            return
        }
        #expect(remaining == .seconds(30))
        clock.advance(by: .seconds(31))
        guard case .stale = cache.lookup(self.query) else {
            Issue.record("expected stale")
            return
        }
    }

    @Test("a newer generation makes older entries unreachable")
    func generation() throws {
        let cache = PageCache(capacity: 4, ttl: .seconds(30), clock: TestClock())
        _ = try self.load(cache, self.query, Self.page(1))
        cache.observe(generation: 2)
        guard case .miss = cache.lookup(self.query) else {
            Issue.record("old generation still reachable")
            return
        }
        #expect(cache.count == 0)
        cache.observe(generation: 1)
        #expect(cache.generation == 2, "generations never go back")
    }

    @Test("a load that reports a newer generation advances the cache")
    func loadAdvances() throws {
        let cache = PageCache(capacity: 4, ttl: .seconds(30), clock: TestClock())
        _ = try self.load(cache, CharacterQuery(page: 2), Self.page(0))
        _ = try self.load(cache, self.query, Self.page(5))
        #expect(cache.generation == 5)
        guard case .miss = cache.lookup(CharacterQuery(page: 2)) else {
            Issue.record("generation 0 entry survived")
            return
        }
        guard case .fresh = cache.lookup(self.query) else {
            Issue.record("generation 5 entry missing")
            return
        }
    }

    @Test("concurrent misses for one key make one load; only the leader's is stored")
    func singleFlight() throws {
        let cache = PageCache(capacity: 4, ttl: .seconds(30), clock: TestClock())
        let calls = CallCounter()
        let database = self.loop.makePromise(of: CachedPage.self)
        let leader = cache.load(self.query, on: self.loop) {
            calls.increment()
            return database.futureResult
        }
        let followers = (0..<20).map { _ in
            cache.load(self.query, on: self.loop) {
                calls.increment()
                return self.loop.makeSucceededFuture(Self.page(0, "other"))
            }
        }
        #expect(cache.waitingCount(for: self.query) == 20)
        database.succeed(Self.page(0, "from the database"))
        #expect(try leader.wait().stored)
        for follower in followers {
            let loaded = try follower.wait()
            #expect(!loaded.stored)
            #expect(String(buffer: loaded.page.body) == "from the database")
        }
        #expect(calls.value == 1)
        #expect(cache.waitingCount(for: self.query) == 0)
    }

    @Test("a failed load is shared by its followers and caches nothing")
    func failure() {
        struct Boom: Error {}
        let cache = PageCache(capacity: 4, ttl: .seconds(30), clock: TestClock())
        let database = self.loop.makePromise(of: CachedPage.self)
        let leader = cache.load(self.query, on: self.loop) { database.futureResult }
        let follower = cache.load(self.query, on: self.loop) { self.loop.makeSucceededFuture(Self.page(0)) }
        database.fail(Boom())
        #expect(throws: Boom.self) { try leader.wait() }
        #expect(throws: Boom.self) { try follower.wait() }
        #expect(cache.count == 0)
    }

    @Test("LRU bound holds")
    func bound() throws {
        let cache = PageCache(capacity: 2, ttl: .seconds(30), clock: TestClock())
        for page in 1...5 { _ = try self.load(cache, CharacterQuery(page: page), Self.page(0)) }
        #expect(cache.count == 2)
    }
}

/// A thread-safe call count shared with concurrent tasks.
final class CallCounter: Sendable {
    private let count = Mutex(0)
    var value: Int { self.count.withLock { $0 } }
    func increment() { self.count.withLock { $0 += 1 } }
}

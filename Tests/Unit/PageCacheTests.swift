import NIOCore
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

    static func page(_ generation: Int64, _ text: String = "x") -> CachedPage {
        CachedPage(body: ByteBuffer(string: text), etag: "\"\(generation)\"", generation: generation)
    }

    @Test("a loaded page is fresh until the TTL, then stale")
    func ttl() async throws {
        let clock = TestClock()
        let cache = PageCache(capacity: 4, ttl: .seconds(30), clock: clock)
        let loaded = try await cache.load(self.query) { Self.page(0) as CachedPage }
        #expect(loaded.stored)
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
    func generation() async throws {
        let cache = PageCache(capacity: 4, ttl: .seconds(30), clock: TestClock())
        _ = try await cache.load(self.query) { Self.page(1) as CachedPage }
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
    func loadAdvances() async throws {
        let cache = PageCache(capacity: 4, ttl: .seconds(30), clock: TestClock())
        _ = try await cache.load(CharacterQuery(page: 2)) { Self.page(0) as CachedPage }
        _ = try await cache.load(self.query) { Self.page(5) as CachedPage }
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

    @Test("concurrent misses for one key make one load")
    func singleFlight() async throws {
        let cache = PageCache(capacity: 4, ttl: .seconds(30), clock: TestClock())
        let calls = CallCounter()
        let gate = AsyncStream<Void>.makeStream()
        let started = AsyncStream<Void>.makeStream()
        try await withThrowingTaskGroup(of: CachedPage.self) { group in
            group.addTask {
                try await cache.load(self.query) {
                    calls.increment()
                    started.continuation.yield()
                    for await _ in gate.stream { break }
                    return Self.page(0)
                }.page
            }
            // Wait until the leader is inside its load, then pile on followers.
            for await _ in started.stream { break }
            for _ in 0..<20 {
                group.addTask {
                    try await cache.load(self.query) {
                        calls.increment()
                        return Self.page(0)
                    }.page
                }
            }
            // Followers must register before the leader finishes; give each a chance to run.
            let deadline = ContinuousClock.now + .seconds(10)
            while cache.waitingCount(for: self.query) < 20 && ContinuousClock.now < deadline { await Task.yield() }
            #expect(cache.waitingCount(for: self.query) == 20)
            gate.continuation.yield()
            var results = 0
            for try await _ in group { results += 1 }
            #expect(results == 21)
        }
        #expect(calls.value == 1)
    }

    @Test("a failed load is shared by its followers and caches nothing")
    func failure() async {
        struct Boom: Error {}
        let cache = PageCache(capacity: 4, ttl: .seconds(30), clock: TestClock())
        await #expect(throws: Boom.self) { try await cache.load(self.query) { throw Boom() } }
        #expect(cache.count == 0)
    }

    @Test("LRU bound holds")
    func bound() async throws {
        let cache = PageCache(capacity: 2, ttl: .seconds(30), clock: TestClock())
        for page in 1...5 { _ = try await cache.load(CharacterQuery(page: page)) { Self.page(0) as CachedPage } }
        #expect(cache.count == 2)
    }
}

/// A thread-safe call count shared with concurrent tasks.
final class CallCounter: Sendable {
    private let count = Mutex(0)
    var value: Int { self.count.withLock { $0 } }
    func increment() { self.count.withLock { $0 += 1 } }
}

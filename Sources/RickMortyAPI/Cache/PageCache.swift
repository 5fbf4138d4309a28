import NIOCore
import Synchronization

/// An encoded `/characters` page ready to send.
struct CachedPage: Sendable {
    let body: ByteBuffer
    /// A strong validator: the data generation and a hash of the bytes.
    let etag: String
    let generation: Int64
}

/// Per-instance page cache (docs/api.md, "Refresh, the lease and the page cache"): LRU + TTL over encoded response bytes, keyed by
/// the query and the data generation, with single-flight loading so that concurrent misses for
/// one key make one database query. A newer generation, seen from any replica, makes older
/// entries unreachable.
final class PageCache<C: Clock>: Sendable where C.Duration == Duration {
    struct Key: Hashable, Sendable {
        let query: CharacterQuery
        let generation: Int64
    }

    private struct Entry {
        let page: CachedPage
        let expires: C.Instant
    }

    private struct State {
        var store: LRUStore<Key, Entry>
        var generation: Int64 = 0
        var loading: [Key: [EventLoopPromise<Loaded>]] = [:]
    }

    /// What a lookup found.
    enum Lookup: Sendable {
        case fresh(CachedPage, remaining: Duration)
        /// Expired but of the current generation: served only when the database cannot answer.
        case stale(CachedPage)
        case miss
    }

    let ttl: Duration
    let capacity: Int
    private let clock: C
    private let state: Mutex<State>

    init(capacity: Int, ttl: Duration, clock: C) {
        self.capacity = capacity
        self.ttl = ttl
        self.clock = clock
        self.state = Mutex(State(store: LRUStore(capacity: capacity)))
    }

    var isEnabled: Bool { self.capacity > 0 && self.ttl > .zero }

    /// The newest data generation this instance has seen.
    var generation: Int64 { self.state.withLock { $0.generation } }

    var count: Int { self.state.withLock { $0.store.count } }

    /// Callers waiting on an in-flight load of `query` (for tests and debugging).
    func waitingCount(for query: CharacterQuery) -> Int {
        self.state.withLock { state in state.loading[Key(query: query, generation: state.generation)]?.count ?? 0 }
    }

    /// Records a generation seen in the database; a newer one drops every older entry.
    func observe(generation: Int64) {
        self.state.withLock { state in
            guard generation > state.generation else { return }
            state.generation = generation
            state.store.removeAll { $0.generation < generation }
        }
    }

    /// Looks `query` up under the current generation.
    func lookup(_ query: CharacterQuery) -> Lookup {
        let now = self.clock.now
        return self.state.withLock { state in
            let key = Key(query: query, generation: state.generation)
            guard let entry = state.store.get(key) else { return .miss }
            let remaining = now.duration(to: entry.expires)
            return remaining > .zero ? .fresh(entry.page, remaining: remaining) : .stale(entry.page)
        }
    }

    /// What ``load(_:on:_:)`` gives each caller: the page, and whether this caller's load was the
    /// one put into the cache.
    struct Loaded: Sendable {
        let page: CachedPage
        let stored: Bool
    }

    /// Loads `query` with `loader`, sharing one call among concurrent callers for the same key,
    /// and stores the result under the generation the loader reports. Every caller's future
    /// completes on its own `eventLoop`; a failed load fails them all and stores nothing.
    func load(
        _ query: CharacterQuery,
        on eventLoop: any EventLoop,
        _ loader: () -> EventLoopFuture<CachedPage>
    ) -> EventLoopFuture<Loaded> {
        let promise = eventLoop.makePromise(of: Loaded.self)
        let (key, isLeader) = self.state.withLock { state in
            let key = Key(query: query, generation: state.generation)
            if state.loading[key] != nil {
                state.loading[key]?.append(promise)
                return (key, false)
            }
            state.loading[key] = []
            return (key, true)
        }
        guard isLeader else { return promise.futureResult }
        loader().whenComplete { result in
            let expires = self.clock.now.advanced(by: self.ttl)
            let (followers, stored) = self.state.withLock { state in
                let followers = state.loading.removeValue(forKey: key) ?? []
                guard case .success(let page) = result, self.isEnabled else { return (followers, false) }
                if page.generation > state.generation {
                    state.generation = page.generation
                    state.store.removeAll { $0.generation < page.generation }
                }
                guard page.generation == state.generation else { return (followers, false) }
                state.store.set(Key(query: key.query, generation: page.generation), Entry(page: page, expires: expires))
                return (followers, true)
            }
            for follower in followers { follower.completeWith(result.map { Loaded(page: $0, stored: false) }) }
            promise.completeWith(result.map { Loaded(page: $0, stored: stored) })
        }
        return promise.futureResult
    }
}

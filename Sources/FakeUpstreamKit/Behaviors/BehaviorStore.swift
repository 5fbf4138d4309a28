import Foundation
import Seeded
import Synchronization

/// The active behaviours and the request journal, shared by the server and the admin API.
/// The first active behaviour whose matcher and probability accept a request applies to it.
public final class BehaviorStore: Sendable {
    private struct Entry {
        var behavior: Behavior
        /// Unix seconds when it was added, for `after_ms`/`for_ms`.
        let addedAt: Double
        /// Matching requests seen, for `every`.
        var hits = 0
    }

    private struct State {
        var entries: [Entry] = []
        var nextID = 1
        var random: SplitMix64
        var journal: [JournalEntry] = []
        var sequence = 0
    }

    private let state: Mutex<State>
    private let seed: UInt64
    /// Journal entries kept; older ones are dropped first.
    public static let journalLimit = 100_000

    public init(seed: UInt64) {
        self.seed = seed
        self.state = Mutex(State(random: SplitMix64(seed: seed)))
    }

    /// Adds a behaviour (after checking it) and returns it with its id.
    @discardableResult
    public func add(
        _ behavior: Behavior,
        at time: Double = Date().timeIntervalSince1970
    ) throws(BehaviorError) -> Behavior {
        if let problem = behavior.problem { throw BehaviorError(message: problem) }
        return self.state.withLock { state in
            var behavior = behavior
            if behavior.id == nil {
                behavior.id = "b\(state.nextID)"
                state.nextID += 1
            }
            // Adding an id that exists replaces it in place, keeping its priority.
            if let index = state.entries.firstIndex(where: { $0.behavior.id == behavior.id }) {
                state.entries[index] = Entry(behavior: behavior, addedAt: time)
            } else {
                state.entries.append(Entry(behavior: behavior, addedAt: time))
            }
            return behavior
        }
    }

    public var behaviors: [Behavior] { self.state.withLock { $0.entries.map(\.behavior) } }

    /// Removes one behaviour; false when there was none with that id.
    public func remove(id: String) -> Bool {
        self.state.withLock { state in
            let before = state.entries.count
            state.entries.removeAll { $0.behavior.id == id }
            return state.entries.count != before
        }
    }

    public func removeAll() {
        self.state.withLock { $0.entries.removeAll() }
    }

    /// As when the server started: no behaviours, an empty journal, ids from `b1` again and the
    /// seeded decisions from the start of their stream.
    public func reset() {
        self.state.withLock { $0 = State(random: SplitMix64(seed: self.seed)) }
    }

    /// Picks the behaviour for `request` at `time`, using up one of its `times`.
    func select(for request: RecordedRequest, at time: Double = Date().timeIntervalSince1970) -> Behavior? {
        self.state.withLock { state in
            for index in state.entries.indices {
                let entry = state.entries[index]
                let behavior = entry.behavior
                guard behavior.match.matches(request) else { continue }
                let start = entry.addedAt + (behavior.afterMs ?? 0) / 1000
                guard time >= start else { continue }
                if let forMs = behavior.forMs, time >= start + forMs / 1000 { continue }
                state.entries[index].hits += 1
                if let every = behavior.every, state.entries[index].hits % every != 0 { continue }
                if let probability = behavior.probability {
                    guard state.random.unit() < probability else { continue }
                }
                if let times = behavior.times {
                    if times <= 1 {
                        state.entries.remove(at: index)
                    } else {
                        state.entries[index].behavior.times = times - 1
                    }
                }
                return behavior
            }
            return nil
        }
    }

    /// A latency in milliseconds drawn from `latency` with the seeded generator.
    func sample(_ latency: FaultAction.Latency) -> Double {
        self.state.withLock { state in
            latency.sample(
                uniform01: { state.random.unit() },
                normal: {
                    // Box-Muller: two uniforms make one standard normal.
                    let u1 = max(state.random.unit(), .leastNonzeroMagnitude)
                    let u2 = state.random.unit()
                    return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
                }
            )
        }
    }

    /// Appends to the journal.
    func record(_ request: RecordedRequest, status: Int, behavior: String?, at time: Double) {
        self.state.withLock { state in
            state.sequence += 1
            var query: [String: String] = [:]
            for item in request.query { query[item.name] = item.value }
            state.journal.append(
                JournalEntry(
                    sequence: state.sequence,
                    time: time,
                    method: request.method,
                    path: request.path,
                    query: query,
                    status: status,
                    behavior: behavior
                )
            )
            if state.journal.count > Self.journalLimit {
                state.journal.removeFirst(state.journal.count - Self.journalLimit)
            }
        }
    }

    /// Journal entries, optionally only those for `path` whose query contains `query`.
    public func requests(path: String? = nil, query: [String: String] = [:]) -> [JournalEntry] {
        self.state.withLock { state in
            state.journal.filter { entry in
                (path == nil || entry.path == path) && query.allSatisfy { entry.query[$0.key] == $0.value }
            }
        }
    }

    public func clearJournal() {
        self.state.withLock { $0.journal.removeAll() }
    }
}

/// An admin request that cannot be accepted; the message says why.
public struct BehaviorError: Error, Equatable {
    public let message: String
}

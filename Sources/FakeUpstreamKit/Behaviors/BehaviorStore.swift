import Foundation
import Synchronization

/// The active behaviours and the request journal, shared by the server and the admin API.
/// The first active behaviour whose matcher and probability accept a request applies to it.
public final class BehaviorStore: Sendable {
    private struct State {
        var behaviors: [Behavior] = []
        var nextID = 1
        var random: SplitMix64
        var journal: [JournalEntry] = []
        var sequence = 0
    }

    private let state: Mutex<State>
    /// Journal entries kept; older ones are dropped first.
    public static let journalLimit = 100_000

    public init(seed: UInt64) {
        self.state = Mutex(State(random: SplitMix64(seed: seed)))
    }

    /// Adds a behaviour (after checking it) and returns it with its id.
    @discardableResult
    public func add(_ behavior: Behavior) throws(BehaviorError) -> Behavior {
        if let problem = behavior.problem { throw BehaviorError(message: problem) }
        return self.state.withLock { state in
            var behavior = behavior
            if behavior.id == nil {
                behavior.id = "b\(state.nextID)"
                state.nextID += 1
            }
            state.behaviors.removeAll { $0.id == behavior.id }
            state.behaviors.append(behavior)
            return behavior
        }
    }

    public var behaviors: [Behavior] { self.state.withLock { $0.behaviors } }

    /// Removes one behaviour; false when there was none with that id.
    public func remove(id: String) -> Bool {
        self.state.withLock { state in
            let before = state.behaviors.count
            state.behaviors.removeAll { $0.id == id }
            return state.behaviors.count != before
        }
    }

    public func removeAll() {
        self.state.withLock { $0.behaviors.removeAll() }
    }

    /// Picks the behaviour for `request`, using up one of its `times`.
    func select(for request: RecordedRequest) -> Behavior? {
        self.state.withLock { state in
            for index in state.behaviors.indices {
                let behavior = state.behaviors[index]
                guard behavior.match.matches(request) else { continue }
                if let probability = behavior.probability {
                    let roll = Double(state.random.next() >> 11) / Double(1 << 53)
                    guard roll < probability else { continue }
                }
                if let times = behavior.times {
                    if times <= 1 {
                        state.behaviors.remove(at: index)
                    } else {
                        state.behaviors[index].times = times - 1
                    }
                }
                return behavior
            }
            return nil
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

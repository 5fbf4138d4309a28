import Foundation
import JSONWriting
import Synchronization

/// Every decision the proxies make (a toxic applied to a connection or not, a request or query
/// picked or not, a fault injected), newest last, capped; served at `GET /events`.
public final class EventJournal: Sendable {
    public struct Event: Sendable {
        public let id: Int
        /// Seconds since 1970.
        public let time: Double
        public let proxy: String
        public let toxic: String
        public let type: String
        public let connection: Int
        /// The request or query on the connection (1-based), or 0 when the decision is per connection.
        public let request: Int
        /// `applied`, `skipped`, or the fault injected (`reset`, `closed`, `status 503`, …).
        public let outcome: String
    }

    private struct State {
        var events: [Event] = []
        var nextID = 1
    }

    private let state = Mutex(State())
    private let capacity: Int

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func record(proxy: String, toxic: Toxic, connection: Int, request: Int = 0, outcome: String) {
        let time = Date().timeIntervalSince1970
        self.state.withLock { state in
            state.events.append(
                Event(
                    id: state.nextID,
                    time: time,
                    proxy: proxy,
                    toxic: toxic.name,
                    type: toxic.type,
                    connection: connection,
                    request: request,
                    outcome: outcome
                )
            )
            state.nextID += 1
            if state.events.count > self.capacity { state.events.removeFirst(state.events.count - self.capacity) }
        }
    }

    /// Events with an id above `after`, optionally of one proxy.
    public func events(after: Int = 0, proxy: String? = nil) -> [Event] {
        self.state.withLock { state in
            state.events.filter { $0.id > after && (proxy == nil || $0.proxy == proxy) }
        }
    }

    func clear() {
        self.state.withLock { $0.events.removeAll() }
    }

    static func write(_ event: Event, into json: inout JSONWriter) {
        json.beginObject()
        json.field("id", event.id)
        json.field("time", event.time)
        json.field("proxy", event.proxy)
        json.field("toxic", event.toxic)
        json.field("type", event.type)
        json.field("connection", event.connection)
        json.field("request", event.request)
        json.field("outcome", event.outcome)
        json.endObject()
    }
}

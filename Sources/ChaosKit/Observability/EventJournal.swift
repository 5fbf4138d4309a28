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
        /// The client's end of the connection (`127.0.0.1:54321`); empty when unknown.
        public let client: String
        /// The request or query on the connection (1-based), or 0 when the decision is per connection.
        public let request: Int
        /// `applied`, `skipped`, or the fault injected (`reset`, `closed`, `status 503`, …).
        public let outcome: String
    }

    private struct State {
        /// A ring: once full, each new event takes the oldest one's place, at `oldest`, so a
        /// decision costs the same whether the journal is full or not.
        var events: [Event] = []
        var oldest = 0
        var nextID = 1

        /// Oldest first; their ids are consecutive.
        var ordered: ArraySlice<Event> { self.events[self.oldest...] + self.events[..<self.oldest] }
    }

    private let state = Mutex(State())
    private let capacity: Int

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func record(proxy: String, toxic: Toxic, connection: Int, client: String = "", request: Int = 0, outcome: String) {
        let time = Date().timeIntervalSince1970
        self.state.withLock { state in
            let event = Event(
                id: state.nextID,
                time: time,
                proxy: proxy,
                toxic: toxic.name,
                type: toxic.type,
                connection: connection,
                client: client,
                request: request,
                outcome: outcome
            )
            state.nextID += 1
            if state.events.count < self.capacity {
                state.events.append(event)
            } else {
                state.events[state.oldest] = event
                state.oldest = (state.oldest + 1) % self.capacity
            }
        }
    }

    /// Events with an id above `after`, optionally of one proxy.
    public func events(after: Int = 0, proxy: String? = nil) -> [Event] {
        self.state.withLock { state in
            let ordered = state.ordered
            let skip = max(0, min(ordered.count, after - (ordered.first?.id ?? 0) + 1))
            return ordered.dropFirst(skip).filter { proxy == nil || $0.proxy == proxy }
        }
    }

    func clear() {
        self.state.withLock { state in
            state.events.removeAll(keepingCapacity: true)
            state.oldest = 0
        }
    }

    static func write(_ event: Event, into json: inout JSONWriter) {
        json.beginObject()
        json.field("id", event.id)
        json.field("time", event.time)
        json.field("proxy", event.proxy)
        json.field("toxic", event.toxic)
        json.field("type", event.type)
        json.field("connection", event.connection)
        json.field("client", event.client)
        json.field("request", event.request)
        json.field("outcome", event.outcome)
        json.endObject()
    }
}

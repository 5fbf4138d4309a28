import Foundation
import Native

/// What Chaos and FakeUpstream wrote down during a run: the fault decisions and the requests.
extension ScenarioRunner {
    struct ChaosEvent: Decodable {
        let id: Int
        let time: Double
        let proxy: String
        let toxic: String
        let connection: Int
        /// Absent from a Chaos older than the field.
        let client: String?
        let request: Int
        let outcome: String
    }

    func chaosEvents(after: Int) throws -> [ChaosEvent] {
        struct Page: Decodable { let events: [ChaosEvent] }
        return try JSONDecoder().decode(
            Page.self,
            from: Data(try self.target.chaos("GET", "/events?after=\(after)").body)
        ).events
    }

    /// Chaos's decisions, read as the run goes: its journal keeps only the newest 10 000, which a
    /// long or busy run outgrows when it is read once at the end.
    struct ChaosEventLog {
        private(set) var last: Int
        private(set) var events: [ChaosEvent] = []

        init(after last: Int) { self.last = last }

        /// Reads what was journaled since the last read.
        mutating func read(_ runner: ScenarioRunner) {
            guard let page = try? runner.chaosEvents(after: self.last), let newest = page.last else { return }
            self.events += page
            self.last = newest.id
        }
    }

    /// FakeUpstream's journal since `start`, in run seconds.
    func upstreamJournal(since start: Double) -> [Observations.UpstreamEntry] {
        struct Journal: Decodable {
            struct Entry: Decodable {
                let time: Double
                let path: String
                let query: [String: String]
                let status: Int
                let behavior: String?
            }
            let requests: [Entry]
        }
        guard let exchange = try? self.target.upstreamAdmin("GET", "/requests"),
            let journal = try? JSONDecoder().decode(Journal.self, from: Data(exchange.body))
        else { return [] }
        return journal.requests.filter { $0.time >= start }.map { entry in
            let query = entry.query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
            return .init(
                time: entry.time - start,
                path: entry.path,
                query: query,
                status: entry.status,
                behavior: entry.behavior
            )
        }
    }

    /// Chaos's decisions and FakeUpstream's behaviour-made answers during the run, in run seconds.
    func decisions(
        _ events: [ChaosEvent],
        since start: Double,
        journal: [Observations.UpstreamEntry]
    ) -> [RunReport.Decision] {
        var decisions = events.map {
            RunReport.Decision(
                source: "chaos:\($0.proxy)",
                time: $0.time - start,
                what: "\($0.toxic) connection \($0.connection)" + ($0.request > 0 ? " request \($0.request)" : ""),
                outcome: $0.outcome,
                client: $0.client.flatMap { $0.isEmpty ? nil : $0 }
            )
        }
        for entry in journal {
            guard let behavior = entry.behavior else { continue }
            decisions.append(
                .init(
                    source: "upstream",
                    time: entry.time,
                    what: "\(entry.path)\(entry.query.isEmpty ? "" : "?\(entry.query)") by behaviour \(behavior)",
                    outcome: "status \(entry.status)"
                )
            )
        }
        return decisions.sorted { $0.time < $1.time }
    }
}

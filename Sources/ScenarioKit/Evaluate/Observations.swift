import Foundation

/// Everything a run observed that the verdicts are judged on.
public struct Observations: Sendable {
    /// The App's stored ids and FakeUpstream's known answer at the end.
    public struct StoredAnswer: Sendable {
        public var ids: [Int]
        public var expected: [Int]

        public init(ids: [Int], expected: [Int]) {
            self.ids = ids
            self.expected = expected
        }
    }

    /// The stored set at the end of a phase, with the set from before the run and the one the
    /// upstream served at that moment.
    public struct StoredSnapshot: Sendable, Codable {
        public var stored: [Int]
        public var old: [Int]
        public var new: [Int]

        public init(stored: [Int], old: [Int], new: [Int]) {
            self.stored = stored
            self.old = old
            self.new = new
        }
    }

    /// One line of FakeUpstream's journal, in run seconds.
    public struct UpstreamEntry: Sendable, Codable {
        public var time: Double
        public var path: String
        public var query: String
        public var status: Int
        public var behavior: String?

        public init(time: Double, path: String, query: String, status: Int, behavior: String?) {
            self.time = time
            self.path = path
            self.query = query
            self.status = status
            self.behavior = behavior
        }
    }

    /// An App a timeline step signalled, and what followed: its exit status (from lab.json),
    /// the new App's pid, and when that one answered `/readyz` 200 (run seconds).
    public struct AppRestart: Sendable {
        public var signal: String
        public var pid: Int32
        public var at: Double
        public var exitStatus: Int32?
        public var newPID: Int32?
        public var readyAt: Double?

        public init(
            signal: String,
            pid: Int32,
            at: Double,
            exitStatus: Int32? = nil,
            newPID: Int32? = nil,
            readyAt: Double? = nil
        ) {
            self.signal = signal
            self.pid = pid
            self.at = at
            self.exitStatus = exitStatus
            self.newPID = newPID
            self.readyAt = readyAt
        }
    }

    public var outcomes: [Outcome] = []
    /// The database connections each request used, by request id, from the App's log (local labs).
    public var connections: [String: [String]] = [:]
    public var restarts: [AppRestart] = []
    public var alerts: AlertReplay.Timeline?
    /// Why there is no alert timeline (no promtool, too short), when there is none.
    public var alertsUnavailable: String?
    public var stored: StoredAnswer?
    /// The App's metrics once a second (element i: second i), keyed by ``MetricKey`` form.
    public var metrics: [[String: Double]] = []
    public var upstream: [UpstreamEntry] = []
    /// The `Retry-After` value each of this run's behaviours scripted, by behaviour id.
    public var retryAfter: [String: String] = [:]
    /// Stored-set snapshots by phase name.
    public var snapshots: [String: StoredSnapshot] = [:]

    public init() {}
}

/// Metric series keys in one form whatever recorded them: `name{a="1",b="2"}` with the labels
/// sorted, so a file's `'ingest_runs_total{result="failure"}'` finds the recorded series.
public enum MetricKey {
    public static func normalize(_ series: String) -> String {
        guard let brace = series.firstIndex(of: "{"), series.hasSuffix("}") else { return series }
        let name = series[..<brace]
        let body = series[series.index(after: brace)..<series.index(before: series.endIndex)]
        var labels: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in body {
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == ",", !quoted {
                labels.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        if !current.isEmpty { labels.append(current) }
        let kept = labels.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.sorted()
        return kept.isEmpty ? String(name) : "\(name){\(kept.joined(separator: ","))}"
    }

    /// The metric name of a series key.
    public static func name(_ series: String) -> String {
        String(series.prefix { $0 != "{" })
    }
}

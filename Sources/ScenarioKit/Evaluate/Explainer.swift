/// Puts every failed or slow request down to the fault that caused it, or calls it unexplained.
///
/// A fault explains a request that was waiting for its answer while the fault was applied, or
/// was due up to `settle` seconds after it was undone (the App needs a moment to notice that a dependency is back),
/// when the fault's own journal shows it acting in that stretch: a Chaos decision on the proxy it
/// targets that was not `skipped`, or a FakeUpstream answer made by a behaviour. A disabled proxy
/// makes no decisions (it refuses connections outright), so its window alone explains.
///
/// When the App's log names the database connections a request used (`db.connection`, keyed by
/// the request id the load sent), a decision made on one of those very connections is preferred,
/// and the finding names the connection. A request can also suffer from a fault on another
/// connection (it waited in the pool behind a slow one), so the time match still explains it.
public struct Explainer: Sendable {
    /// A fault as it was applied in the run, with what it acts on.
    public struct Window: Sendable {
        public var summary: String
        public var from: Double
        public var until: Double
        /// `chaos:postgres`, `chaos:upstream`, `upstream`: which journal shows it acting.
        public var source: String
        /// Whether it acts without journal entries (a disabled proxy).
        public var silent: Bool

        public init(summary: String, from: Double, until: Double, source: String, silent: Bool) {
            self.summary = summary
            self.from = from
            self.until = until
            self.source = source
            self.silent = silent
        }
    }

    public var windows: [Window]
    public var decisions: [RunReport.Decision]
    public var settle: Double
    public var slow: Double
    /// The client addresses of the database connections each request used, by request id.
    public var connections: [String: [String]]

    public init(
        windows: [Window],
        decisions: [RunReport.Decision],
        settle: Double,
        slow: Double,
        connections: [String: [String]] = [:]
    ) {
        self.windows = windows
        self.decisions = decisions
        self.settle = settle
        self.slow = slow
        self.connections = connections
    }

    /// Whether an outcome needs explaining: it failed, answered 5xx, or took longer than `slow`.
    public func needsExplaining(_ outcome: Outcome) -> Bool {
        outcome.status.map { $0 >= 500 } ?? true || outcome.latency > self.slow
    }

    /// The fault that explains `outcome`, or nil.
    public func cause(of outcome: Outcome) -> String? { self.explanation(of: outcome)?.cause }

    /// The fault that explains `outcome` and, when a decision on the request's own database
    /// connection shows it, that connection; nil when nothing explains it.
    public func explanation(of outcome: Outcome) -> (cause: String, connection: String?)? {
        let used = self.connections[outcome.requestID] ?? []
        var byTime: String?
        // The request overlaps the window: it was still waiting for its answer when the fault came,
        // or was sent before the fault had settled.
        for window in self.windows where outcome.finished >= window.from && outcome.due <= window.until + self.settle {
            if window.silent {
                byTime = byTime ?? window.summary
                continue
            }
            let acting = self.decisions.filter {
                $0.source == window.source && $0.time >= window.from - 0.5 && $0.time <= outcome.finished + 0.5
                    && $0.outcome != "skipped"
            }
            if let own = acting.lazy.compactMap(\.client).first(where: used.contains) {
                return (window.summary, own)
            }
            if !acting.isEmpty { byTime = byTime ?? window.summary }
        }
        return byTime.map { ($0, nil) }
    }

    /// Every outcome that needs explaining, with its cause.
    public func findings(_ outcomes: [Outcome]) -> [RunReport.Finding] {
        outcomes.filter(self.needsExplaining).map {
            let explanation = self.explanation(of: $0)
            return RunReport.Finding(
                due: $0.due,
                request: $0.request,
                result: $0.result,
                latency: $0.latency,
                cause: explanation?.cause,
                connection: explanation?.connection
            )
        }
    }
}

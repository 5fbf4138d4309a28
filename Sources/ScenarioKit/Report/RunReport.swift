/// Everything one run found, in the shape `journal.json` takes (Chaos Toolkit's journal words
/// where they fit: `status`, `deviated`, `steady_states`, `run`, `rollbacks`). The other reports
/// are written from it.
public struct RunReport: Codable, Sendable {
    public struct Target: Codable, Sendable {
        public var app: String
        public var chaos: String
        public var fakeUpstream: String
        public var startedHere: Bool
    }

    public struct ProbeResult: Codable, Sendable {
        public var name: String
        public var passed: Bool
        public var observed: String
    }

    public struct SteadyStates: Codable, Sendable {
        public var before: [ProbeResult]
        public var after: [ProbeResult]
    }

    /// One fault step: when it was applied and undone (seconds into the run) and how that went.
    public struct StepRecord: Codable, Sendable {
        public var phase: String
        public var summary: String
        public var appliedAt: Double?
        public var applied: String
        public var undoneAt: Double?
        public var undone: String
    }

    public struct Rollback: Codable, Sendable {
        public var name: String
        public var result: String
    }

    /// How the requests of one phase went.
    public struct PhaseStats: Codable, Sendable {
        public var name: String
        public var start: Double
        public var end: Double
        public var faults: [String]
        public var requests: Int
        public var rate: Double
        /// Count per result (`200`, `503`, `connect`, …).
        public var results: [String: Int]
        public var p50: Double?
        public var p99: Double?
        public var max: Double?
        /// Failed or slow requests, and how many of them a fault explains.
        public var errors: Int
        public var explained: Int
        /// Of those explained, how many by a decision made on the very database connection the
        /// request used (the App's log names it); the others by time alone.
        public var explainedByConnection: Int
        public var unexplained: Int
    }

    public struct ExpectationResult: Codable, Sendable {
        public var name: String
        public var window: String
        /// `passed`, `failed` or `skipped` (a faults-only expectation under `--control`).
        public var verdict: String
        public var observed: String
        public var margin: String
    }

    /// One second of load, for the timeline chart.
    public struct Second: Codable, Sendable {
        public var second: Int
        public var ok: Int
        public var clientErrors: Int
        public var serverErrors: Int
        public var failures: Int
        public var p50: Double?
        public var p99: Double?
    }

    /// A fault decision Chaos or FakeUpstream made, as its journal has it.
    public struct Decision: Codable, Sendable, Equatable {
        public var source: String
        public var time: Double
        public var what: String
        public var outcome: String
        /// The client end of the proxied connection it was made on (`127.0.0.1:54321`), when known.
        public var client: String?

        public init(source: String, time: Double, what: String, outcome: String, client: String? = nil) {
            self.source = source
            self.time = time
            self.what = what
            self.outcome = outcome
            self.client = client
        }
    }

    /// A failed or slow request and what explains it (nil: nothing does).
    public struct Finding: Codable, Sendable {
        public var due: Double
        public var request: String
        public var result: String
        public var latency: Double
        public var cause: String?
        /// The request's own database connection, when a decision made on it explains the request.
        public var connection: String?
    }

    public var scenario: String
    public var title: String
    public var file: String
    public var seed: UInt64
    public var control: Bool
    public var revision: String
    public var startedAt: String
    public var duration: Double
    public var target: Target
    /// `completed`, `failed` (an expectation did not hold) or `aborted` (the run could not go on).
    public var status: String
    public var deviated: Bool
    public var abortReason: String?
    public var steadyStates: SteadyStates
    public var run: [StepRecord]
    public var rollbacks: [Rollback]
    public var phases: [PhaseStats]
    public var expectations: [ExpectationResult]
    public var alertSource: String
    /// Seconds at which each alert was firing, from the replay.
    public var alerts: [String: [Int]]
    public var seconds: [Second]
    public var decisions: [Decision]
    /// Up to 50 failed or slow requests that no fault explains.
    public var unexplained: [Finding]

    /// 0: every expectation held; 1: one did not; 2: the run could not go on.
    public var exitCode: Int32 {
        switch self.status {
        case "completed": 0
        case "failed": 1
        default: 2
        }
    }
}

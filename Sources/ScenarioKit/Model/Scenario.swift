/// A chaos experiment as read from one `ops/scenarios/*.yaml` file: steady load against the
/// App, a timeline of phases that inject and undo faults, and what must hold.
public struct Scenario: Sendable {
    /// The file's name without `.yaml`: what `lab scenario run NAME` takes.
    public var name: String
    public var file: String
    public var title: String
    public var description: String
    public var seed: UInt64
    /// Seconds, from the first request to the last.
    public var duration: Double
    public var load: Load
    public var steadyState: SteadyState
    public var phases: [Phase]
    public var expectations: [Expectation]

    /// The phase that covers second `time` of the run (the last one for the end itself).
    public func phase(at time: Double) -> Phase? {
        self.phases.first { time >= $0.start && time < $0.end } ?? (time >= self.duration ? self.phases.last : nil)
    }

    /// The same scenario without a fault: the negative control.
    public var control: Scenario {
        var copy = self
        for index in copy.phases.indices { copy.phases[index].steps.removeAll() }
        return copy
    }
}

/// Open-model load: requests are sent at a constant rate whatever the answers take.
public struct Load: Sendable {
    /// One kind of request in the mix.
    public struct Request: Sendable {
        public var name: String
        public var weight: Int
        /// Path and query on the App; `{unique}` and `{size}` are filled in per request.
        public var path: String
    }

    /// Requests per second once ramped up.
    public var rate: Double
    /// Seconds over which the rate climbs linearly from 0 (0: full rate from the start).
    public var ramp: Double
    /// The most requests in flight at once; a request due when all are busy waits, and its
    /// latency counts from when it was due.
    public var connections: Int
    /// Seconds a request may take before it counts as failed.
    public var timeout: Double
    /// A request slower than this (seconds) needs an explanation, like a failed one.
    public var slow: Double
    /// Seconds after a fault is undone during which a failure is still put down to it.
    public var settle: Double
    public var mix: [Request]
}

/// Probes that must hold before the first fault (else the run stops: exit 2) and after the last.
public struct SteadyState: Sendable {
    /// Seconds each probe may take to hold (it is retried until then).
    public var within: Double
    public var probes: [Probe]
}

/// One steady-state probe.
public struct Probe: Sendable {
    public enum Check: Sendable, Equatable {
        /// `GET path` answers `status`, and the JSON body has these top-level fields.
        case http(path: String, status: Int, json: [String: JSONScalar])
        /// One App metric sample (`name{labels}`) within bounds.
        case metric(sample: String, min: Double?, max: Double?)
        /// The App stores exactly FakeUpstream's known answer.
        case knownAnswer
    }

    public var name: String
    public var check: Check
}

/// A JSON scalar a probe compares with.
public enum JSONScalar: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    public var description: String {
        switch self {
        case .string(let text): "\"\(text)\""
        case .number(let value): value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)
        case .bool(let value): String(value)
        case .null: "null"
        }
    }
}

/// A stretch of the run with a name; its fault steps are applied at their times and undone at
/// the phase's end.
public struct Phase: Sendable {
    public var name: String
    /// Seconds from the start of the run.
    public var start: Double
    public var end: Double
    public var steps: [Step]
    public var duration: Double { self.end - self.start }
    /// Whether any fault is applied in this phase.
    public var hasFaults: Bool { !self.steps.isEmpty }
}

/// One fault a phase applies, with what undoes it.
public struct Step: Sendable {
    public enum Action: Sendable, Equatable {
        /// Add a Chaos toxic (the Toxiproxy JSON), removed at the phase's end.
        case toxic(proxy: String, json: String, name: String)
        /// Disable a Chaos proxy (optionally resetting its open connections), enabled again at
        /// the phase's end.
        case disableProxy(proxy: String, resetConnections: Bool)
        /// Add a FakeUpstream behaviour (its JSON), removed at the phase's end.
        case upstream(json: String)
        /// Send the App of a local lab a signal (`SIGTERM`, `SIGKILL`); the lab starts a new App
        /// once it exits, and the step ends when that one is ready (by the phase's end at the latest).
        case app(signal: String)
    }

    /// Seconds after the phase's start.
    public var at: Double
    public var action: Action
    /// One line for people: what the step does.
    public var summary: String
}

/// What must hold, over a window of the run and a subset of the requests.
public struct Expectation: Sendable {
    public enum Check: Sendable, Equatable {
        /// Every answer has one of these statuses (a transport error never passes).
        case statusIn([Int])
        /// Every answer with one of these statuses carries `Retry-After`.
        case retryAfter([Int])
        /// At least this share (0…1) of the requests succeed (2xx).
        case minSuccess(Double)
        /// Latency percentiles (percent → seconds) stay at or below their bounds.
        case latencyAtMost([Double: Double])
        /// Latency percentiles reach at least these values: the fault's effect was seen.
        case latencyAtLeast([Double: Double])
        /// From `seconds` after the window's start, every request succeeds.
        case recoversWithin(Double)
        /// These alerts fire during the window (from its start to 10 s after its end), and
        /// with `othersSilent` no other alert fires at any time in the run.
        case alerts(fire: [String], othersSilent: Bool)
        /// At the end, the App stores exactly FakeUpstream's known answer.
        case knownAnswer
        /// At the end of the window, the stored set is the one from before the run or the one the
        /// upstream serves now, never a mix (an ambiguous commit must not half-apply).
        case oldOrNew
        /// Every retry FakeUpstream's journal shows after an answer with `Retry-After` (from a
        /// behaviour of this run) came at least that long after it.
        case retryAfterHonoured
        /// One App metric sample, read every second, over the window.
        case metric(sample: String, rule: MetricRule)
        /// Every App signalled in the window exited with this status (any, when nil), and a new
        /// App answered `/readyz` 200 within this many seconds of the signal.
        case appRestart(exit: Int32?, readyWithin: Double)
    }

    /// What a metric sample must do over a window.
    public enum MetricRule: Sendable, Equatable {
        /// Never above the bound.
        case atMost(Double)
        /// At or above the value at some second.
        case reaches(Double)
        /// Equal to the value at the window's last second.
        case endsAt(Double)
        /// Grows by at most this share from the window's first second to its last.
        case growthAtMost(Double)
        /// Grows by at least this much from the window's first second to its last.
        case increasesBy(Double)
    }

    public var name: String
    /// Phase names; empty means the whole run.
    public var phases: [String]
    /// Mix names; empty means every request.
    public var requests: [String]
    public var check: Check
    /// Only meaningful with faults: skipped under `--control`.
    public var faultsOnly: Bool
}

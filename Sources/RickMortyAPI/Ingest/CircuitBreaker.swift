/// The upstream's circuit breaker as a plain state machine (docs/api.md, "Ingest"): it opens after
/// `threshold` consecutive failures, stays open for `cooldown`, then lets one trial request through
/// (half-open) whose outcome closes or re-opens it.
struct CircuitBreaker<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    enum State: Equatable, Sendable {
        case closed(failures: Int)
        case open(until: Instant)
        case halfOpen(trialInFlight: Bool)
    }

    /// The state's name in `/healthcheck`.
    enum Phase: String, Sendable {
        case closed, open
        case halfOpen = "half_open"

        /// `upstream_circuit_state`: 0 closed, 1 half-open, 2 open.
        var gaugeValue: Double {
            switch self {
            case .closed: return 0
            case .halfOpen: return 1
            case .open: return 2
            }
        }
    }

    let threshold: Int
    let cooldown: Duration
    private(set) var state: State = .closed(failures: 0)

    init(threshold: Int, cooldown: Duration) {
        self.threshold = threshold
        self.cooldown = cooldown
    }

    /// The phase as seen at `now` (an expired open circuit reads as half-open).
    func phase(at now: Instant) -> Phase {
        switch self.state {
        case .closed: return .closed
        case .halfOpen: return .halfOpen
        case .open(let until): return now >= until ? .halfOpen : .open
        }
    }

    /// Whether a request may go out now; a true answer in half-open reserves the single trial.
    mutating func allowRequest(at now: Instant) -> Bool {
        switch self.state {
        case .closed:
            return true
        case .open(let until):
            guard now >= until else { return false }
            self.state = .halfOpen(trialInFlight: true)
            return true
        case .halfOpen(let trialInFlight):
            guard !trialInFlight else { return false }
            self.state = .halfOpen(trialInFlight: true)
            return true
        }
    }

    /// Records a request's outcome.
    mutating func record(success: Bool, at now: Instant) {
        if success {
            self.state = .closed(failures: 0)
            return
        }
        switch self.state {
        case .closed(let failures):
            self.state =
                failures + 1 >= self.threshold
                ? .open(until: now.advanced(by: self.cooldown)) : .closed(failures: failures + 1)
        case .halfOpen, .open:
            self.state = .open(until: now.advanced(by: self.cooldown))
        }
    }
}

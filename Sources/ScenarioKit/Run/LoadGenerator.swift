import Foundation
import Native
import Synchronization

/// What happened to one request of the load.
public struct Outcome: Sendable, Codable {
    public let index: Int
    /// The `X-Request-ID` it was sent with, which the App copies into its log lines.
    public let requestID: String
    /// The mix entry's name.
    public let request: String
    /// Seconds after the start: when it was due, and when its answer (or failure) came.
    public let due: Double
    public let finished: Double
    /// The status, or nil when the exchange failed.
    public let status: Int?
    /// The transport failure (`connect`, `timeout`, `reset`, …), if any.
    public let error: String?
    public let retryAfter: Bool

    /// Latency as wrk2 counts it: from when the request was due, not from when it went out.
    public var latency: Double { self.finished - self.due }
    public var succeeded: Bool { self.status.map { (200..<300).contains($0) } ?? false }
    /// `200`, `503`, or the transport failure's kind.
    public var result: String { self.status.map(String.init) ?? (self.error ?? "error") }
}

/// Sends a ``LoadSchedule`` at the App with a fixed number of worker threads (libcurl is
/// blocking). Each worker takes the next request number, waits until it is due and sends it; when
/// every worker is busy, a due request waits and that wait counts in its latency.
public final class LoadGenerator: Sendable {
    private let schedule: LoadSchedule
    private let app: String
    private let uniqueBase: Int
    /// Starts every request id of this run (`scn-1a2b3c4d-`), so its lines in the App's log can be told apart.
    public let requestIDPrefix: String
    private let next = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let results = Mutex<[Outcome]>([])
    private let running = Atomic<Int>(0)

    public init(schedule: LoadSchedule, app: String) {
        self.schedule = schedule
        self.app = app
        // Pages past the end that earlier runs against the same App most likely did not ask for
        // either, so none of them is in its cache.
        self.uniqueBase = Int.random(in: 0..<LoadSchedule.uniquePages)
        self.requestIDPrefix = "scn-\(String(UInt32.random(in: .min ... .max), radix: 16))-"
    }

    /// Starts the workers; `start` is the run's time zero.
    public func start(at start: ContinuousClock.Instant) {
        for _ in 0..<self.schedule.load.connections {
            self.running.add(1, ordering: .relaxed)
            let thread = Thread { [self] in
                self.work(from: start)
                self.running.subtract(1, ordering: .relaxed)
            }
            thread.start()
        }
    }

    private func work(from start: ContinuousClock.Instant) {
        let client = CurlHTTPClient()
        let timeout = self.schedule.load.timeout
        while !self.stopped.load(ordering: .relaxed) {
            let index = self.next.add(1, ordering: .relaxed).oldValue
            guard let due = self.schedule.due(index) else { return }
            let dueInstant = start + .seconds(due)
            let wait = ContinuousClock.now.duration(to: dueInstant)
            if wait > .zero { Thread.sleep(forTimeInterval: Self.seconds(wait)) }
            let url = self.app + self.schedule.path(index, unique: self.uniqueBase)
            var status: Int?
            var failure: String?
            var retryAfter = false
            let requestID = self.requestIDPrefix + String(index)
            do {
                let exchange = try client.get(url, timeout: timeout, headers: [("X-Request-ID", requestID)])
                status = exchange.status
                retryAfter = exchange.header("retry-after") != nil
            } catch let error as HTTPTransportError {
                failure = error.kind.rawValue
            } catch {
                failure = "other"
            }
            let finished = Self.seconds(start.duration(to: .now))
            let outcome = Outcome(
                index: index,
                requestID: requestID,
                request: self.schedule.load.mix[self.schedule.request(index)].name,
                due: due,
                finished: finished,
                status: status,
                error: failure,
                retryAfter: retryAfter
            )
            self.results.withLock { $0.append(outcome) }
        }
    }

    /// Asks the workers to stop after their current request and waits (up to the request
    /// timeout and a second) until they have.
    public func stop() {
        self.stopped.store(true, ordering: .relaxed)
        let deadline = Date().addingTimeInterval(self.schedule.load.timeout + 1)
        while self.running.load(ordering: .relaxed) > 0 && Date() < deadline { usleep(10_000) }
    }

    /// Whether every request of the schedule has been answered.
    public var finished: Bool { self.running.load(ordering: .relaxed) == 0 }

    /// Every outcome so far, in the order they finished.
    public var outcomes: [Outcome] { self.results.withLock { $0 } }

    /// Outcomes that finished at or after `time` seconds (for the live progress line).
    public func outcomes(since time: Double) -> [Outcome] {
        self.results.withLock { list in
            var first = list.endIndex
            while first > list.startIndex && list[first - 1].finished >= time { first -= 1 }
            return Array(list[first...])
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}

import Foundation

/// What a behaviour does to a matching request. Parts combine: a latency, then either a
/// transport fault or a response (the real one or `status`), possibly lied about, corrupted or
/// dribbled out slowly.
public struct FaultAction: Codable, Sendable, Equatable {
    /// Fixed wait before answering (time to first byte); shorthand for a fixed `latency`.
    public var delayMs: Double?
    /// A wait drawn from a distribution before answering.
    public var latency: Latency?
    /// Break the connection instead of answering.
    public var transport: Transport?
    /// How long `hang` holds the connection before closing it (default 60 000 ms).
    public var hangMs: Double?
    /// Answer with this status instead of the real response (with `headers` and `body`).
    public var status: Int?
    public var headers: [String: String]?
    public var body: String?
    /// Damage the response.
    public var corrupt: Corruption?
    /// Send the body in `chunks` pieces spread over `over_ms`.
    public var dribble: Dribble?
    /// Lie in a `/api/character` page.
    public var pagination: PaginationLie?

    public enum Transport: String, Codable, Sendable {
        /// A TCP reset (RST) without any response.
        case reset
        /// A clean close (FIN) without any response.
        case close
        /// Accept and never answer; closed after `hang_ms`.
        case hang
    }

    public enum Corruption: String, Codable, Sendable {
        /// The body cut in half: invalid JSON with a consistent Content-Length.
        case malformedJSON = "malformed_json"
        /// `Content-Type: text/html` on a JSON body.
        case wrongContentType = "wrong_content_type"
        /// Content-Length announces the whole body, half is sent, then the connection closes.
        case truncate
    }

    public struct Latency: Codable, Sendable, Equatable {
        public enum Distribution: String, Codable, Sendable { case fixed, uniform, lognormal }
        public var distribution: Distribution
        /// fixed: the wait; uniform: the lower bound; lognormal: the median.
        public var ms: Double
        /// uniform: the upper bound.
        public var maxMs: Double?
        /// lognormal: the spread (σ of the underlying normal), e.g. 0.5.
        public var sigma: Double?

        public init(distribution: Distribution, ms: Double, maxMs: Double? = nil, sigma: Double? = nil) {
            self.distribution = distribution
            self.ms = ms
            self.maxMs = maxMs
            self.sigma = sigma
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case distribution, ms, sigma
            case maxMs = "max_ms"
        }

        /// A wait in milliseconds; `uniform01` and `normal` draw from the seeded generator.
        func sample(uniform01: () -> Double, normal: () -> Double) -> Double {
            switch self.distribution {
            case .fixed: return self.ms
            case .uniform: return self.ms + (max(self.ms, self.maxMs ?? self.ms) - self.ms) * uniform01()
            case .lognormal: return min(600_000, self.ms * exp((self.sigma ?? 0.5) * normal()))
            }
        }
    }

    public struct Dribble: Codable, Sendable, Equatable {
        public var chunks: Int
        public var overMs: Double

        public init(chunks: Int, overMs: Double) {
            self.chunks = chunks
            self.overMs = overMs
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case chunks
            case overMs = "over_ms"
        }
    }

    public struct PaginationLie: Codable, Sendable, Equatable {
        /// Replace `info.count`.
        public var count: Int?
        /// Replace `info.pages`.
        public var pages: Int?
        /// Replace `info.next` (another host, a loop back to page 1, …); `""` makes it null.
        public var next: String?
        /// Tamper with `results`.
        public var results: ResultsLie?

        public enum ResultsLie: String, Codable, Sendable {
            /// An empty page in the middle.
            case empty
            /// The previous page's results again: duplicate ids across pages.
            case duplicatePrevious = "duplicate_previous"
            /// The first result left out: a missing id.
            case dropFirst = "drop_first"
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case count, pages, next, results
        }

        public init(count: Int? = nil, pages: Int? = nil, next: String? = nil, results: ResultsLie? = nil) {
            self.count = count
            self.pages = pages
            self.next = next
            self.results = results
        }
    }

    public init(
        delayMs: Double? = nil,
        latency: Latency? = nil,
        transport: Transport? = nil,
        hangMs: Double? = nil,
        status: Int? = nil,
        headers: [String: String]? = nil,
        body: String? = nil,
        corrupt: Corruption? = nil,
        dribble: Dribble? = nil,
        pagination: PaginationLie? = nil
    ) {
        self.delayMs = delayMs
        self.latency = latency
        self.transport = transport
        self.hangMs = hangMs
        self.status = status
        self.headers = headers
        self.body = body
        self.corrupt = corrupt
        self.dribble = dribble
        self.pagination = pagination
    }

    /// A short name for the journal and the `fault` metric label.
    var kind: String {
        if let transport { return transport.rawValue }
        if let status { return "status_\(status)" }
        if let corrupt { return corrupt.rawValue }
        if self.pagination != nil { return "pagination" }
        if self.dribble != nil { return "dribble" }
        return "latency"
    }

    var problem: String? {
        if let status, !(100...599).contains(status) { return "status must be between 100 and 599" }
        for (name, value) in [("delay_ms", self.delayMs), ("hang_ms", self.hangMs), ("latency.ms", self.latency?.ms)] {
            if let value, !(0...600_000).contains(value) { return "\(name) must be between 0 and 600000" }
        }
        if let latency {
            if latency.distribution == .uniform, let maxMs = latency.maxMs, !(latency.ms...600_000).contains(maxMs) {
                return "latency.max_ms must be between latency.ms and 600000"
            }
            if let sigma = latency.sigma, !(0...5).contains(sigma) { return "latency.sigma must be between 0 and 5" }
        }
        if let dribble {
            if !(1...10_000).contains(dribble.chunks) { return "dribble.chunks must be between 1 and 10000" }
            if !(0...600_000).contains(dribble.overMs) { return "dribble.over_ms must be between 0 and 600000" }
        }
        let acts = [
            self.delayMs != nil, self.latency != nil, self.transport != nil, self.status != nil, self.corrupt != nil,
            self.dribble != nil, self.pagination != nil,
        ]
        if !acts.contains(true) {
            return "action must set one of delay_ms, latency, transport, status, corrupt, dribble or pagination"
        }
        return nil
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case delayMs = "delay_ms"
        case hangMs = "hang_ms"
        case latency, transport, status, headers, body, corrupt, dribble, pagination
    }
}

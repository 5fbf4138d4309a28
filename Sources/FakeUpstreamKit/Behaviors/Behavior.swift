/// A scripted misbehaviour: which requests it applies to, what it does, and for how long.
/// JSON shape (for the admin API and the `--config` file):
/// `{"id": "p3-503", "match": {"path": "/api/character", "query": {"page": "3"}},
///   "action": {"status": 503, "headers": {"Retry-After": "2"}}, "times": 2}`
public struct Behavior: Codable, Sendable, Equatable {
    public var id: String?
    public var match: RequestMatcher
    public var action: FaultAction
    /// How many matching requests it applies to before it is used up; nil = forever.
    public var times: Int?
    /// Chance (0…1) that a matching request is affected; nil = always. Decided by the seeded generator.
    public var probability: Double?

    public init(
        id: String? = nil,
        match: RequestMatcher = .init(),
        action: FaultAction,
        times: Int? = nil,
        probability: Double? = nil
    ) {
        self.id = id
        self.match = match
        self.action = action
        self.times = times
        self.probability = probability
    }

    enum CodingKeys: String, CodingKey {
        case id, match, action, times, probability
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.id = try container.decodeIfPresent(String.self, forKey: .id)
        self.match = try container.decodeIfPresent(RequestMatcher.self, forKey: .match) ?? RequestMatcher()
        self.action = try container.decode(FaultAction.self, forKey: .action)
        self.times = try container.decodeIfPresent(Int.self, forKey: .times)
        self.probability = try container.decodeIfPresent(Double.self, forKey: .probability)
    }

    /// Why a behaviour cannot be accepted, or nil when it is fine.
    public var problem: String? {
        if let times, times < 1 { return "times must be at least 1" }
        if let probability, !(0...1).contains(probability) { return "probability must be between 0 and 1" }
        return self.action.problem
    }
}

/// Which requests a behaviour applies to. Every field that is set must match.
public struct RequestMatcher: Codable, Sendable, Equatable {
    public var method: String?
    /// Exact path, e.g. `/api/character`.
    public var path: String?
    /// Path prefix, e.g. `/api/character/`.
    public var pathPrefix: String?
    /// Query parameters that must have these values (last value of a repeated name).
    public var query: [String: String]?
    /// Request headers that must have these values (names case-insensitive).
    public var headers: [String: String]?

    public init(
        method: String? = nil,
        path: String? = nil,
        pathPrefix: String? = nil,
        query: [String: String]? = nil,
        headers: [String: String]? = nil
    ) {
        self.method = method
        self.path = path
        self.pathPrefix = pathPrefix
        self.query = query
        self.headers = headers
    }

    func matches(_ request: RecordedRequest) -> Bool {
        if let method, method.uppercased() != request.method { return false }
        if let path, path != request.path { return false }
        if let pathPrefix, !request.path.hasPrefix(pathPrefix) { return false }
        for (name, value) in self.query ?? [:] where request.query.last(where: { $0.name == name })?.value != value {
            return false
        }
        for (name, value) in self.headers ?? [:] where request.headers[name.lowercased()] != value {
            return false
        }
        return true
    }

    enum CodingKeys: String, CodingKey {
        case method, path
        case pathPrefix = "path_prefix"
        case query, headers
    }
}

/// What a behaviour does to a matching request.
public struct FaultAction: Codable, Sendable, Equatable {
    /// Wait this long before answering (time to first byte).
    public var delayMs: Double?
    /// Answer with this status instead of the real response (with `headers` and `body`).
    public var status: Int?
    public var headers: [String: String]?
    public var body: String?
    /// Damage the real response: `malformed_json` or `wrong_content_type`.
    public var corrupt: Corruption?

    public enum Corruption: String, Codable, Sendable {
        case malformedJSON = "malformed_json"
        case wrongContentType = "wrong_content_type"
    }

    public init(
        delayMs: Double? = nil,
        status: Int? = nil,
        headers: [String: String]? = nil,
        body: String? = nil,
        corrupt: Corruption? = nil
    ) {
        self.delayMs = delayMs
        self.status = status
        self.headers = headers
        self.body = body
        self.corrupt = corrupt
    }

    var problem: String? {
        if let status, !(100...599).contains(status) { return "status must be between 100 and 599" }
        if let delayMs, !(0...600_000).contains(delayMs) { return "delay_ms must be between 0 and 600000" }
        if self.status == nil && self.delayMs == nil && self.corrupt == nil {
            return "action must set status, delay_ms or corrupt"
        }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case delayMs = "delay_ms"
        case status, headers, body, corrupt
    }
}

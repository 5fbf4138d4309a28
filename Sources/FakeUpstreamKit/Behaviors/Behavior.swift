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
    /// Affect only every n-th matching request (e.g. 5: the 5th, 10th, …).
    public var every: Int?
    /// Active only from this many milliseconds after it was added …
    public var afterMs: Double?
    /// … and for this many milliseconds (nil = forever).
    public var forMs: Double?

    public init(
        id: String? = nil,
        match: RequestMatcher = .init(),
        action: FaultAction,
        times: Int? = nil,
        probability: Double? = nil,
        every: Int? = nil,
        afterMs: Double? = nil,
        forMs: Double? = nil
    ) {
        self.id = id
        self.match = match
        self.action = action
        self.times = times
        self.probability = probability
        self.every = every
        self.afterMs = afterMs
        self.forMs = forMs
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, match, action, times, probability, every
        case afterMs = "after_ms"
        case forMs = "for_ms"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.id = try container.decodeIfPresent(String.self, forKey: .id)
        self.match = try container.decodeIfPresent(RequestMatcher.self, forKey: .match) ?? RequestMatcher()
        self.action = try container.decode(FaultAction.self, forKey: .action)
        self.times = try container.decodeIfPresent(Int.self, forKey: .times)
        self.probability = try container.decodeIfPresent(Double.self, forKey: .probability)
        self.every = try container.decodeIfPresent(Int.self, forKey: .every)
        self.afterMs = try container.decodeIfPresent(Double.self, forKey: .afterMs)
        self.forMs = try container.decodeIfPresent(Double.self, forKey: .forMs)
    }

    /// Why a behaviour cannot be accepted, or nil when it is fine.
    public var problem: String? {
        if let times, times < 1 { return "times must be at least 1" }
        if let probability, !(0...1).contains(probability) { return "probability must be between 0 and 1" }
        if let every, every < 1 { return "every must be at least 1" }
        if let afterMs, !(0...86_400_000).contains(afterMs) { return "after_ms must be between 0 and 86400000" }
        if let forMs, !(0...86_400_000).contains(forMs) { return "for_ms must be between 0 and 86400000" }
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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case method, path
        case pathPrefix = "path_prefix"
        case query, headers
    }
}

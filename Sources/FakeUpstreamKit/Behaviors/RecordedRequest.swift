/// A request as the journal and the matchers see it.
public struct RecordedRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [(name: String, value: String)]
    /// Header values by lowercase name (last occurrence wins).
    public var headers: [String: String]

    public init(method: String, path: String, query: [(name: String, value: String)], headers: [String: String]) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }
}

/// One journal line: what was asked, when, and what was done about it.
public struct JournalEntry: Codable, Sendable {
    public let sequence: Int
    /// Unix time the request arrived, in seconds.
    public let time: Double
    public let method: String
    public let path: String
    public let query: [String: String]
    public let status: Int
    /// The behaviour that applied, if any.
    public let behavior: String?
}

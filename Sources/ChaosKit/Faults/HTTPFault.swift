import NIOCore

/// A fault on HTTP/1.1 exchanges, decided per request: the tracker finds each request, asks
/// every HTTP fault whose matcher fits (and whose `probability` picks it), and carries out the
/// plan they make together.
protocol HTTPFault: Fault {
    var matcher: HTTPMatcher { get }
    /// Adds this fault's part to what happens to a picked request.
    func apply(to plan: inout HTTPPlan, toxic: LinkToxic)
}

/// What happens to one request and its response.
struct HTTPPlan {
    /// Answered by the proxy; the upstream never sees the request.
    var answer: (toxic: LinkToxic, status: Int, headers: [(String, String)], body: String)?
    /// Held before the response (headers) or before its body, by these toxics.
    var delay: TimeAmount = .zero
    var delayBody = false
    var delayedBy: [LinkToxic] = []
    /// RST after the response head and this many body bytes.
    var reset: (toxic: LinkToxic, afterBytes: Int)?
}

/// Which requests an HTTP fault acts on, and how often.
struct HTTPMatcher: Sendable, Equatable {
    static let defaults: [String: AttributeValue] = [
        "method": .string(""), "path_prefix": .string(""), "query": .string(""), "probability": .number(1),
    ]

    var method: String
    var pathPrefix: String
    /// `key=value` pairs that must all be in the request's query.
    var query: [String]
    var probability: Double

    init(method: String, pathPrefix: String, query: [String], probability: Double) {
        self.method = method
        self.pathPrefix = pathPrefix
        self.query = query
        self.probability = probability
    }

    init(_ toxic: Toxic) {
        self.init(
            method: toxic.string("method"),
            pathPrefix: toxic.string("path_prefix"),
            query: toxic.string("query").split(separator: "&").map(String.init),
            probability: toxic.number("probability")
        )
    }

    func matches(method: String, target: String) -> Bool {
        if !self.method.isEmpty && self.method.uppercased() != method { return false }
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        if !(parts.first ?? "").hasPrefix(self.pathPrefix) { return false }
        if self.query.isEmpty { return true }
        let present = Set((parts.dropFirst().first ?? "").split(separator: "&").map(String.init))
        return self.query.allSatisfy(present.contains)
    }

    var problem: String? {
        if self.probability > 1 { return "probability must be between 0 and 1" }
        if !self.method.allSatisfy({ $0.isASCII && $0.isLetter }) { return "method must be an HTTP method, e.g. GET" }
        return nil
    }
}

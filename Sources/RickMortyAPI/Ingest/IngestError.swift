import Native

/// Why a request to the upstream, or a whole ingest run, failed.
enum IngestError: Error, Equatable, CustomStringConvertible {
    /// No HTTP response: refused, reset, timed out (`kind` is the transport's classification).
    case transport(kind: String, message: String)
    /// The upstream answered with a status other than 200.
    case upstreamStatus(Int, retryAfter: Duration?)
    /// The body was not the JSON the API promises.
    case invalidJSON(url: String, detail: String)
    /// A kept record breaks a rule (id, name, sizes).
    case invalidRecord(id: Int, reason: String)
    /// The circuit breaker is open: the upstream was not called.
    case circuitOpen
    /// The upstream claims more pages than the hard cap.
    case tooManyPages(Int)

    /// Worth another attempt: transport failures, timeouts, 429 and 5xx.
    var isRetryable: Bool {
        switch self {
        case .transport: return true
        case .upstreamStatus(let status, _): return status == 429 || (500...599).contains(status)
        case .invalidJSON, .invalidRecord, .circuitOpen, .tooManyPages: return false
        }
    }

    /// Every ``reason`` an error for which ``isRetryable`` is true can have: each transport kind,
    /// `429` and `5xx`. Kept beside ``reason`` so the two cannot drift apart.
    static var retryableReasons: [String] { HTTPTransportError.Kind.allCases.map(\.rawValue) + ["429", "5xx"] }

    /// A short label for metrics and logs.
    var reason: String {
        switch self {
        case .transport(let kind, _): return kind
        case .upstreamStatus(let status, _): return status == 429 ? "429" : "\(status / 100)xx"
        case .invalidJSON: return "invalid_json"
        case .invalidRecord: return "invalid_record"
        case .circuitOpen: return "circuit_open"
        case .tooManyPages: return "too_many_pages"
        }
    }

    /// A short, secret-free reason for `/healthcheck` and logs: "HTTP 503", "timeout after 10 s",
    /// "couldn't resolve host name".
    var summary: String {
        switch self {
        case .transport(_, let message): return message
        case .upstreamStatus(let status, _): return "HTTP \(status)"
        case .invalidJSON(_, let detail): return "invalid JSON: \(detail)"
        case .invalidRecord, .circuitOpen, .tooManyPages: return self.description
        }
    }

    var description: String {
        switch self {
        case .transport(let kind, let message): return "upstream \(kind) error: \(message)"
        case .upstreamStatus(let status, _): return "upstream answered \(status)"
        case .invalidJSON(let url, let detail): return "invalid JSON from \(url): \(detail)"
        case .invalidRecord(let id, let reason): return "invalid character \(id): \(reason)"
        case .circuitOpen: return "upstream circuit is open"
        case .tooManyPages(let pages): return "upstream claims \(pages) pages, more than the cap"
        }
    }
}

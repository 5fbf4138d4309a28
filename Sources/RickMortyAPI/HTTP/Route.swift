/// The service's fixed set of routes (docs/api.md, "Routes"). The raw value is the path and the
/// `path` label of the HTTP metrics; anything else is `other`.
enum Route: String, CaseIterable, Sendable {
    case characters = "/characters"
    case healthz = "/healthz"
    case readyz = "/readyz"
    case ready = "/ready"
    case healthcheck = "/healthcheck"
    case metrics = "/metrics"
    case openapi = "/openapi.json"
    case docs = "/docs"
    case root = "/"

    /// The metric label for requests that match no route.
    static let unmatchedLabel = "other"

    /// Probes and scrapes are never rate limited.
    var isRateLimited: Bool {
        switch self {
        case .characters, .openapi, .docs, .root: return true
        case .healthz, .readyz, .ready, .healthcheck, .metrics: return false
        }
    }
}

/// A request the service refuses for a reason of its own (not a dependency's failure).
enum HTTPFailure: Error, Equatable {
    case notFound
    case methodNotAllowed
    /// The client's rate limit is spent; `retryAfter` is whole seconds until a token is back.
    case rateLimited(retryAfter: Int, limit: Int)
    /// The instance cannot serve now (not ready, shutting down); answered 503 with `Retry-After`.
    case unavailable(detail: String)
}

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Prometheus

/// The service's HTTP front: routing over the fixed route table, 404/405, HEAD, request ids,
/// rate limiting, problem responses, metrics and the access log, in one readable place.
struct AppResponder<C: Clock>: HTTPResponder where C.Duration == Duration {
    typealias Context = AppRequestContext

    let characters: CharactersEndpoint<C>
    let health: HealthEndpoints<C>
    let metrics: AppMetrics
    let problems: ProblemRenderer
    let rateLimiter: RateLimiter<C>?

    /// The method as a metric label: the standard ones by name, anything else `other`, so a
    /// client cannot grow the label set.
    private static func methodLabel(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .head, .post, .put, .delete, .patch, .options: return method.rawValue
        default: return "other"
        }
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        self.metrics.inFlight.increment()
        defer { self.metrics.inFlight.decrement() }

        let path = request.uri.path
        let route = Route(rawValue: path)
        let requestID = RequestIdentity.requestID(from: request.headers)

        // Which database connections served the request, for its log lines; only noted while
        // the access line is on (info), which already builds metadata for every request.
        let logsRequests = context.logger.logLevel <= .info
        let databaseUse = logsRequests ? DatabaseUse() : nil
        var response: Response
        do {
            if let databaseUse {
                response = try await DatabaseUse.$current.withValue(databaseUse) {
                    try await self.dispatch(route, request: request, context: context)
                }
            } else {
                response = try await self.dispatch(route, request: request, context: context)
            }
        } catch {
            var logger = Self.requestLogger(context.logger, requestID: requestID, headers: request.headers)
            if let used = databaseUse?.summary { logger[metadataKey: "db.connection"] = .string(used) }
            response = self.problems.response(for: error, path: path, logger: logger)
        }
        response.headers[.requestID] = requestID
        if request.method == .head { response = response.createHeadResponse() }

        let seconds = (ContinuousClock.now - started).seconds
        let method = Self.methodLabel(request.method)
        let label = route?.rawValue ?? Route.unmatchedLabel
        self.metrics.recordRequest(path: label, method: method, status: response.status.code, seconds: seconds)
        // The access line is info: skip building its logger and metadata when that level is off.
        if logsRequests {
            var metadata: Logger.Metadata = [
                "http.method": .string(method), "http.route": .string(label),
                "http.status": .stringConvertible(response.status.code),
                "http.duration_ms": .stringConvertible((seconds * 1_000_000).rounded() / 1000),
            ]
            if let used = databaseUse?.summary { metadata["db.connection"] = .string(used) }
            Self.requestLogger(context.logger, requestID: requestID, headers: request.headers).info(
                "request",
                metadata: metadata
            )
        }
        return response
    }

    /// The request's logger: request id and, when the client sent a valid `traceparent`, its trace.
    private static func requestLogger(_ base: Logger, requestID: String, headers: HTTPFields) -> Logger {
        var logger = base
        logger[metadataKey: "request_id"] = .string(requestID)
        if let trace = RequestIdentity.traceContext(from: headers) {
            logger[metadataKey: "trace_id"] = .string(trace.traceID)
            logger[metadataKey: "parent_span_id"] = .string(trace.spanID)
        }
        return logger
    }

    private func dispatch(_ route: Route?, request: Request, context: Context) async throws -> Response {
        guard let route else { throw HTTPFailure.notFound }
        guard request.method == .get || request.method == .head else { throw HTTPFailure.methodNotAllowed }
        if route.isRateLimited, let limiter = self.rateLimiter,
            let wait = limiter.acquire(client: context.clientAddress)
        {
            throw HTTPFailure.rateLimited(retryAfter: wait, limit: Int(limiter.burst))
        }
        switch route {
        case .characters:
            return try await self.characters.respond(to: request)
        case .healthz:
            return Self.json(.ok, HealthEndpoints<C>.liveBody)
        case .readyz, .ready:
            return try self.health.readiness(path: route.rawValue)
        case .healthcheck:
            return self.health.healthcheck()
        case .metrics:
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(
                status: .ok,
                headers: headers,
                body: .init(byteBuffer: ByteBuffer(bytes: self.metrics.exposition()))
            )
        case .openapi:
            return Self.json(.ok, StaticBodies.openapi)
        case .docs:
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: StaticBodies.docs))
        case .root:
            var headers = HTTPFields()
            headers[.location] = "/docs"
            return Response(status: .temporaryRedirect, headers: headers)
        }
    }

    static func json(_ status: HTTPResponse.Status, _ body: ByteBuffer, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }
}

/// Response bodies built once per process (generic types cannot hold static stored properties).
enum StaticBodies {
    static let docs = ByteBuffer(string: DocsPage.html)
    static let openapi = ByteBuffer(string: OpenAPIDocument.json)
}

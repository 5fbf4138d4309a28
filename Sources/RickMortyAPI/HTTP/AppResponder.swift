import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Prometheus

/// The service's HTTP front behind Hummingbird: routing over the fixed route table, 404/405,
/// HEAD, request ids, rate limiting, problem responses, metrics and the access log. `GET` and
/// `HEAD /characters`, the hot route, are answered before this by ``CharactersHandler`` on the
/// event loop, with the same endpoint, the same headers, metrics and log line.
struct AppResponder<C: Clock>: HTTPResponder where C.Duration == Duration {
    typealias Context = AppRequestContext

    let characters: CharactersEndpoint<C>
    let health: HealthEndpoints<C>
    let metrics: AppMetrics
    let problems: ProblemRenderer
    let rateLimiter: RateLimiter<C>?

    func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        self.metrics.inFlight.increment()
        defer { self.metrics.inFlight.decrement() }

        let path = request.uri.path
        let route = Route(rawValue: path)
        let requestID = RequestIdentity.requestID(from: request.headers[.requestID])
        let traceparent = request.headers[.traceparentHeader]

        // Which database connections served the request, for its log lines; only noted while
        // the access line is on (info), which already builds metadata for every request.
        let logsRequests = context.logger.logLevel <= .info
        let databaseUse = logsRequests ? DatabaseUse() : nil
        var response: Response
        do {
            response = try await self.dispatch(route, request: request, context: context, databaseUse: databaseUse)
        } catch {
            var logger = AccessLog.requestLogger(context.logger, requestID: requestID, traceparent: traceparent)
            if let used = databaseUse?.summary { logger[metadataKey: "db.connection"] = .string(used) }
            response = self.problems.response(for: error, path: path, logger: logger)
        }
        response.headers[.requestID] = requestID
        if request.method == .head { response = response.createHeadResponse() }

        let seconds = (ContinuousClock.now - started).seconds
        let method = AccessLog.methodLabel(request.method.rawValue)
        let label = route?.rawValue ?? Route.unmatchedLabel
        self.metrics.recordRequest(path: label, method: method, status: response.status.code, seconds: seconds)
        if logsRequests {
            AccessLog.write(
                context.logger,
                requestID: requestID,
                traceparent: traceparent,
                method: method,
                route: label,
                status: response.status.code,
                seconds: seconds,
                databaseUse: databaseUse
            )
        }
        return response
    }

    private func dispatch(
        _ route: Route?,
        request: Request,
        context: Context,
        databaseUse: DatabaseUse?
    ) async throws -> Response {
        guard let route else { throw HTTPFailure.notFound }
        guard request.method == .get || request.method == .head else { throw HTTPFailure.methodNotAllowed }
        if route.isRateLimited, let limiter = self.rateLimiter,
            let wait = limiter.acquire(client: context.clientAddress)
        {
            throw HTTPFailure.rateLimited(retryAfter: wait, limit: Int(limiter.burst))
        }
        switch route {
        case .characters:
            // Requests in the usual form are answered by CharactersHandler before they get here;
            // the rest (an absolute-form target, say) take the same endpoint through this path.
            let answer = try await self.characters.answer(
                rawQuery: request.uri.query.map { Substring($0) },
                on: context.channel.eventLoop,
                noting: databaseUse
            ).value
            return CharactersEndpoint<C>.response(answer, ifNoneMatch: request.headers[.ifNoneMatch])
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

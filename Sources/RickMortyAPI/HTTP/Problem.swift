import HTTPTypes
import Hummingbird
import JSONWriting
import Logging
import Native

/// A problem document ready to send: its status, headers and JSON body.
struct Problem: Sendable {
    let status: HTTPResponse.Status
    var headers: HTTPFields
    let body: ByteBuffer

    var response: Response { Response(status: self.status, headers: self.headers, body: .init(byteBuffer: self.body)) }
}

/// The one place that turns errors into `application/problem+json` responses (RFC 9457,
/// docs/api.md, "Errors"). Handlers throw; they never format errors themselves.
struct ProblemRenderer: Sendable {
    /// `Retry-After` seconds sent with every 503.
    let retryAfterSeconds: Int

    /// The response for `error` on a request to `path`; unexpected errors are logged here with
    /// the request id and answered with a generic 500.
    func response(for error: any Error, path: String, logger: Logger) -> Response {
        self.problem(for: error, path: path, logger: logger).response
    }

    /// The problem document for `error`, as ``response(for:path:logger:)`` describes.
    func problem(for error: any Error, path: String, logger: Logger) -> Problem {
        switch error {
        case let error as QueryValidationError:
            return self.problem(.init(code: 422), detail: error.detail, path: path)
        case HTTPFailure.notFound:
            return self.problem(.notFound, detail: "No route matches this path.", path: path)
        case HTTPFailure.methodNotAllowed:
            var problem = self.problem(.methodNotAllowed, detail: "This route answers GET and HEAD only.", path: path)
            problem.headers[.allow] = "GET, HEAD"
            return problem
        case HTTPFailure.rateLimited(let retryAfter, let limit):
            var problem = self.problem(
                .tooManyRequests,
                detail: "Rate limit exceeded; retry after \(retryAfter) seconds.",
                path: path
            )
            problem.headers[.retryAfter] = String(retryAfter)
            problem.headers[.rateLimitLimit] = String(limit)
            problem.headers[.rateLimitRemaining] = "0"
            problem.headers[.rateLimitReset] = String(retryAfter)
            return problem
        case HTTPFailure.unavailable(let detail):
            return self.unavailable(detail: detail, path: path)
        case let error as DatabaseError where error.isTransient:
            logger.warning("database unavailable", metadata: ["db.error": "\(redacted(error))"])
            return self.unavailable(detail: "The database is temporarily unavailable; retry later.", path: path)
        default:
            logger.error("request failed", metadata: ["error": "\(redacted(error))"])
            return self.problem(.internalServerError, detail: "The server could not complete the request.", path: path)
        }
    }

    /// 503 with `Retry-After`.
    func unavailable(detail: String, path: String) -> Problem {
        var problem = self.problem(.serviceUnavailable, detail: detail, path: path)
        problem.headers[.retryAfter] = String(self.retryAfterSeconds)
        return problem
    }

    /// A problem document with the status's reason phrase as its title.
    func problem(_ status: HTTPResponse.Status, detail: String, path: String) -> Problem {
        var json = JSONWriter(capacity: 160)
        json.beginObject()
        json.field("type", "about:blank")
        json.field("title", Self.title(status))
        json.field("status", status.code)
        json.field("detail", detail)
        json.field("instance", path)
        json.endObject()
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        headers[.cacheControl] = "no-store"
        return Problem(status: status, headers: headers, body: ByteBuffer(bytes: json.bytes))
    }

    private static func title(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 422: return "Unprocessable Content"
        default: return status.reasonPhrase
        }
    }
}

import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import Prometheus
import SystemSupport

/// Answers `GET` and `HEAD /characters` on the connection's event loop, before Hummingbird's
/// async responder; every other request passes through to it.
///
/// A page in the cache is written back within the read that brought the request; a database read
/// runs on the connection pool's threads and is written when its future completes, back on this
/// event loop. Nothing in between hops to a Swift task, which is where Hummingbird's responder path
/// spends most of its time per request (docs/api.md, "Performance"). The answers, headers,
/// metrics and log line are the ones ``AppResponder`` gives, from the same endpoint and helpers.
///
/// It sits behind NIO's `HTTPServerPipelineHandler`, which hands on one request at a time and
/// holds the next until the response to the current one has ended, so answers never overtake one
/// another, and which closes the connection after the current response on graceful shutdown.
///
/// It is not generic over the clock, unlike the endpoint: as a generic class its protocol
/// witnesses would look up type metadata on every call.
final class CharactersHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// What the handler answers with; one per server, shared by every connection.
    struct Lane: Sendable {
        let endpoint: CharactersEndpoint<ContinuousClock>
        let metrics: AppMetrics
        let problems: ProblemRenderer
        let rateLimiter: RateLimiter<ContinuousClock>?
        let logger: Logger
    }

    /// The request being read: answered here (its body and end are dropped) or passed on.
    private enum Current {
        case none
        case answering
        case passedOn
    }

    private let lane: Lane
    private var current = Current.none
    /// Responses written during the current read are flushed once, when the read completes.
    private var reading = false
    private var needsFlush = false
    private var date = (second: Int64.min, text: "")

    init(lane: Lane) {
        self.lane = lane
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.reading = true
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            if let query = Self.charactersQuery(head) {
                self.current = .answering
                self.answer(head, query: query, context: context)
            } else {
                self.current = .passedOn
                context.fireChannelRead(data)
            }
        case .body:
            if case .passedOn = self.current { context.fireChannelRead(data) }
        case .end:
            if case .passedOn = self.current { context.fireChannelRead(data) }
            self.current = .none
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.reading = false
        if self.needsFlush {
            self.needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// The raw query (empty when there is none) of a request this handler answers: `GET` or
    /// `HEAD` of `/characters` in origin form, on a connection the client keeps open. Anything
    /// else is nil and passes on, `Connection: close` included (Hummingbird does the closing).
    static func charactersQuery(_ head: HTTPRequestHead) -> Substring? {
        guard head.method == .GET || head.method == .HEAD, head.isKeepAlive else { return nil }
        let path = Route.characters.rawValue.utf8
        guard head.uri.utf8.starts(with: path) else { return nil }
        let rest = head.uri.utf8.dropFirst(path.count)
        if rest.isEmpty { return "" }
        guard rest.first == UInt8(ascii: "?"), !rest.contains(UInt8(ascii: "#")) else { return nil }
        return Substring(rest.dropFirst())
    }

    private func answer(_ head: HTTPRequestHead, query: Substring?, context: ChannelHandlerContext) {
        let started = ContinuousClock.now
        self.lane.metrics.inFlight.increment()
        let exchange = Exchange(
            started: started,
            isHead: head.method == .HEAD,
            requestID: RequestIdentity.requestID(from: head.headers.combined("x-request-id")),
            traceparent: head.headers.combined("traceparent"),
            ifNoneMatch: head.headers.combined("if-none-match"),
            databaseUse: self.lane.logger.logLevel <= .info ? DatabaseUse() : nil
        )
        do {
            if let limiter = self.lane.rateLimiter,
                let wait = limiter.acquire(client: context.remoteAddress?.ipAddress ?? "unknown")
            {
                throw HTTPFailure.rateLimited(retryAfter: wait, limit: Int(limiter.burst))
            }
            switch try self.lane.endpoint.answer(rawQuery: query, on: context.eventLoop, noting: exchange.databaseUse) {
            case .ready(let answer):
                self.send(.success(answer), exchange, context: context)
            case .pending(let future):
                future.assumeIsolated().whenComplete { result in self.send(result, exchange, context: context) }
            }
        } catch {
            self.send(.failure(error), exchange, context: context)
        }
    }

    /// One request's facts from its head, kept until its answer is written.
    private struct Exchange {
        let started: ContinuousClock.Instant
        let isHead: Bool
        let requestID: String
        let traceparent: String?
        let ifNoneMatch: String?
        /// Made only while the access line is on (info), so it also says whether to write one.
        let databaseUse: DatabaseUse?
    }

    private func send(
        _ result: Result<CharactersEndpoint<ContinuousClock>.Answer, any Error>,
        _ exchange: Exchange,
        context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        headers.reserveCapacity(6)
        let status: HTTPResponseStatus
        let body: ByteBuffer?
        switch result {
        case .success(let answer):
            headers.add(name: "ETag", value: answer.page.etag)
            headers.add(name: "Cache-Control", value: answer.cacheControl)
            if let candidates = exchange.ifNoneMatch,
                CharactersEndpoint<ContinuousClock>.matches(candidates, answer.page.etag)
            {
                (status, body) = (.notModified, nil)
            } else {
                headers.add(name: "Content-Type", value: "application/json")
                (status, body) = (.ok, answer.page.body)
            }
        case .failure(let error):
            var logger = AccessLog.requestLogger(
                self.lane.logger,
                requestID: exchange.requestID,
                traceparent: exchange.traceparent
            )
            if let used = exchange.databaseUse?.summary { logger[metadataKey: "db.connection"] = .string(used) }
            let problem = self.lane.problems.problem(for: error, path: Route.characters.rawValue, logger: logger)
            for field in problem.headers { headers.add(name: field.name.rawName, value: field.value) }
            (status, body) = (HTTPResponseStatus(statusCode: problem.status.code), problem.body)
        }
        if let body { headers.add(name: "Content-Length", value: String(body.readableBytes)) }
        headers.add(name: "X-Request-ID", value: exchange.requestID)
        headers.add(name: "Date", value: self.httpDate())

        self.record(status: Int(status.code), exchange)
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if let body, !exchange.isHead {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        // Ending the response may hand this handler the next request at once (the pipeline
        // handler was holding it), so nothing after this line may depend on the current one.
        context.write(self.wrapOutboundOut(.end(nil)), promise: nil)
        if self.reading {
            self.needsFlush = true
        } else {
            context.flush()
        }
    }

    /// The request's metrics and access line, as ``AppResponder`` records them.
    private func record(status: Int, _ exchange: Exchange) {
        let seconds = (ContinuousClock.now - exchange.started).seconds
        let method = exchange.isHead ? "HEAD" : "GET"
        let route = Route.characters.rawValue
        self.lane.metrics.recordRequest(path: route, method: method, status: status, seconds: seconds)
        self.lane.metrics.inFlight.decrement()
        if exchange.databaseUse != nil {
            AccessLog.write(
                self.lane.logger,
                requestID: exchange.requestID,
                traceparent: exchange.traceparent,
                method: method,
                route: route,
                status: status,
                seconds: seconds,
                databaseUse: exchange.databaseUse
            )
        }
    }

    /// The `Date` header's value, formatted at most once a second per connection.
    private func httpDate() -> String {
        let second = Int64(Date().timeIntervalSince1970.rounded(.down))
        if second != self.date.second { self.date = (second, CivilTime(unixSeconds: second).httpDate) }
        return self.date.text
    }
}

extension HTTPHeaders {
    /// The value of the field `lowercasedName` as one string, as HTTPTypes gives it: several lines
    /// joined with ", "; nil when the request has none.
    func combined(_ lowercasedName: String) -> String? {
        var combined: String?
        for (name, value) in self where name.utf8.count == lowercasedName.utf8.count {
            // ASCII case folding: setting bit 0x20 lowers a letter and keeps `-` and digits (the
            // parser has already refused anything else in a field name).
            guard zip(name.utf8, lowercasedName.utf8).allSatisfy({ $0 | 0x20 == $1 }) else { continue }
            combined = combined.map { $0 + ", " + value } ?? value
        }
        return combined
    }
}

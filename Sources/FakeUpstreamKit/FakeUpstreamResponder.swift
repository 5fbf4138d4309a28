import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle

/// FakeUpstream's HTTP front: the admin API under `/__admin/`, `/metrics`, and everything else
/// through the behaviours and then the character API, with every API request journaled.
struct FakeUpstreamResponder: HTTPResponder {
    typealias Context = FakeRequestContext

    let api: CharacterAPI
    let admin: RouterResponder<FakeRequestContext>
    let store: BehaviorStore
    let metrics: FakeUpstreamMetrics
    let publicBaseURL: String?
    let adminFromAnywhere: Bool

    /// Thrown from a body writer to cut the response short on purpose.
    private struct CutShort: Error {}

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        if path.hasPrefix("/__admin") {
            guard self.adminFromAnywhere || context.isLoopbackClient else {
                return AdminAPI.problem(403, "The admin API answers loopback clients only.", path: path)
            }
            return try await self.admin.respond(to: request, context: context)
        }
        if path == "/metrics" {
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(
                status: .ok,
                headers: headers,
                body: .init(byteBuffer: ByteBuffer(bytes: self.metrics.registry.emitToBuffer()))
            )
        }

        let arrived = Date().timeIntervalSince1970
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let recorded = RecordedRequest(
            method: request.method.rawValue,
            path: path,
            query: QueryItems.parse(request.uri.query),
            headers: headers
        )
        let behavior = self.store.select(for: recorded, at: arrived)
        let action = behavior?.action
        let fault = action?.kind ?? "none"

        if let action { try await self.wait(action) }
        if let transport = action?.transport {
            self.store.record(recorded, status: 0, behavior: behavior?.id, at: arrived)
            self.metrics.record(path: path, status: 0, fault: fault)
            return await self.breakConnection(transport, hangMs: action?.hangMs ?? 60_000, channel: context.channel)
        }

        var response = self.response(for: request, recorded: recorded, action: action, context: context)
        self.store.record(recorded, status: response.status, behavior: behavior?.id, at: arrived)
        self.metrics.record(path: path, status: response.status, fault: fault)

        var fields = HTTPFields()
        for (name, value) in response.headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        let body = response.body
        response.body = []
        let result: Response
        if action?.corrupt == .truncate {
            // Announce the whole body, send half, then drop the connection.
            let half = ByteBuffer(bytes: body.prefix(body.count / 2))
            result = Response(
                status: .init(code: response.status),
                headers: fields,
                body: .init(contentLength: body.count) { writer in
                    try await writer.write(half)
                    throw CutShort()
                }
            )
        } else if let dribble = action?.dribble {
            result = Response(status: .init(code: response.status), headers: fields, body: Self.dribbled(body, dribble))
        } else {
            result = Response(
                status: .init(code: response.status),
                headers: fields,
                body: .init(byteBuffer: ByteBuffer(bytes: body))
            )
        }
        return request.method == .head ? result.createHeadResponse() : result
    }

    /// The response before transport damage: scripted or real, then lied about and corrupted.
    private func response(
        for request: Request,
        recorded: RecordedRequest,
        action: FaultAction?,
        context: Context
    ) -> FakeResponse {
        let baseURL = self.baseURL(request, context: context)
        var response: FakeResponse
        if let status = action?.status {
            response = FakeResponse(
                status: status,
                headers: (action?.headers ?? [:]).map { ($0.key, HeaderTemplate.expand($0.value)) },
                body: Array((action?.body ?? "").utf8)
            )
        } else if request.method == .get || request.method == .head {
            response = self.api.respond(path: recorded.path, query: recorded.query, baseURL: baseURL)
            for (name, value) in action?.headers ?? [:] {
                response.headers.append((name, HeaderTemplate.expand(value)))
            }
        } else {
            response = FakeResponse.error(405, "Method not allowed")
        }
        if let lie = action?.pagination, response.status == 200,
            FakeUpstreamMetrics.route(recorded.path) == "/api/character"
        {
            let page = recorded.query.last { $0.name == "page" }.flatMap { Int($0.value) } ?? 1
            response.body = PaginationLiar.apply(lie, to: response.body) {
                guard page > 1 else { return nil }
                var query = recorded.query.filter { $0.name != "page" }
                query.append((name: "page", value: String(page - 1)))
                let previous = self.api.respond(path: recorded.path, query: query, baseURL: baseURL)
                return ((try? JSONSerialization.jsonObject(with: Data(previous.body))) as? [String: Any])?["results"]
                    as? [Any]
            }
        }
        switch action?.corrupt {
        case .malformedJSON?:
            response.body = Array(response.body.prefix(max(1, response.body.count / 2)))
        case .wrongContentType?:
            response.headers =
                response.headers.filter { $0.name.lowercased() != "content-type" } + [("Content-Type", "text/html")]
        case .truncate?, nil:
            break
        }
        return response
    }

    private func wait(_ action: FaultAction) async throws {
        var milliseconds = action.delayMs ?? 0
        if let latency = action.latency { milliseconds += self.store.sample(latency) }
        if milliseconds > 0 { try await Task.sleep(for: .microseconds(Int64(milliseconds * 1000))) }
    }

    /// Resets, closes or holds the connection; the response returned is never delivered.
    private func breakConnection(
        _ transport: FaultAction.Transport,
        hangMs: Double,
        channel: any Channel
    ) async -> Response {
        switch transport {
        case .reset:
            // SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            if let socket = channel as? any SocketOptionProvider {
                try? await socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
            }
        case .close:
            break
        case .hang:
            // Bounded, and ended early by a graceful shutdown so that stopping FakeUpstream never waits on it.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int64(hangMs))) }
        }
        try? await channel.close()
        return Response(status: .ok)
    }

    /// The body in `chunks` pieces with equal pauses between them.
    private static func dribbled(_ body: [UInt8], _ dribble: FaultAction.Dribble) -> ResponseBody {
        let chunks = max(1, min(dribble.chunks, max(1, body.count)))
        let size = (body.count + chunks - 1) / max(chunks, 1)
        let pause = Duration.microseconds(Int64(dribble.overMs * 1000) / Int64(chunks))
        return ResponseBody(contentLength: body.count) { writer in
            var offset = 0
            while offset < body.count {
                try await writer.write(ByteBuffer(bytes: body[offset..<min(offset + size, body.count)]))
                offset += size
                if offset < body.count { try await Task.sleep(for: pause) }
            }
            try await writer.finish(nil)
        }
    }

    private func baseURL(_ request: Request, context: Context) -> String {
        if let publicBaseURL { return publicBaseURL }
        let host = request.head.authority ?? context.localAuthority
        return "http://\(host)/api"
    }
}

/// Per-request context with the connection, for addresses and transport faults.
struct FakeRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    var isLoopbackClient: Bool {
        guard let address = self.channel.remoteAddress?.ipAddress else { return false }
        return address.hasPrefix("127.") || address == "::1" || address == "::ffff:127.0.0.1"
    }

    var localAuthority: String {
        "127.0.0.1:\(self.channel.localAddress?.port ?? 80)"
    }
}

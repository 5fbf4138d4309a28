import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// FakeUpstream's HTTP front: the admin API under `/__admin/`, everything else through the
/// behaviours and then the character API, with every API request journaled.
struct FakeUpstreamResponder: HTTPResponder {
    typealias Context = FakeRequestContext

    let api: CharacterAPI
    let admin: AdminAPI
    let store: BehaviorStore
    let publicBaseURL: String?
    let adminFromAnywhere: Bool

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        if path.hasPrefix("/__admin") {
            guard self.adminFromAnywhere || context.isLoopbackClient else {
                return AdminAPI.problem(403, "The admin API answers loopback clients only.", path: path)
            }
            return await self.admin.respond(to: request, path: path)
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
        let behavior = self.store.select(for: recorded)

        if let delay = behavior?.action.delayMs, delay > 0 {
            try await Task.sleep(for: .milliseconds(delay))
        }
        var response: FakeResponse
        if let status = behavior?.action.status {
            response = FakeResponse(
                status: status,
                headers: (behavior?.action.headers ?? [:]).map { ($0.key, $0.value) },
                body: Array((behavior?.action.body ?? "").utf8)
            )
        } else if request.method == .get || request.method == .head {
            response = self.api.respond(
                path: path,
                query: recorded.query,
                baseURL: self.baseURL(request, context: context)
            )
        } else {
            response = FakeResponse.error(405, "Method not allowed")
        }
        switch behavior?.action.corrupt {
        case .malformedJSON?: response.body = Array(response.body.prefix(max(1, response.body.count / 2)))
        case .wrongContentType?:
            response.headers =
                response.headers.filter { $0.name.lowercased() != "content-type" } + [("Content-Type", "text/html")]
        case nil: break
        }
        self.store.record(recorded, status: response.status, behavior: behavior?.id, at: arrived)

        var fields = HTTPFields()
        for (name, value) in response.headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        let result = Response(
            status: .init(code: response.status),
            headers: fields,
            body: .init(byteBuffer: ByteBuffer(bytes: response.body))
        )
        return request.method == .head ? result.createHeadResponse() : result
    }

    private func baseURL(_ request: Request, context: Context) -> String {
        if let publicBaseURL { return publicBaseURL }
        let host = request.head.authority ?? context.localAuthority
        return "http://\(host)/api"
    }
}

/// Per-request context with the connection's addresses.
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

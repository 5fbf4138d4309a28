import Foundation
import HTTPTypes
import Hummingbird
import JSONWriting
import Prometheus

/// The Toxiproxy-compatible control API: `/version`, `/proxies`, `/proxies/{name}`, `/populate`,
/// `/reset`, `/proxies/{name}/toxics[/{toxic}]`, with Toxiproxy's status codes and
/// `{"error": …, "status": …}` bodies; plus our own `/events`, `/seed`, `/metrics` and
/// `DELETE /proxies/{name}/connections`.
struct ControlAPI: HTTPResponder {
    typealias Context = BasicRequestContext

    let registry: ProxyRegistry
    /// When set, every request that changes state needs `Authorization: Bearer <token>`.
    let token: String?
    static let version = "2.12.0-chaos"

    func respond(to request: Request, context: Context) async throws -> Response {
        if let token = self.token, request.method != .get, request.method != .head,
            request.headers[.authorization] != "Bearer \(token)"
        {
            return Self.error(401, "missing or wrong bearer token")
        }
        do {
            return try await self.route(request)
        } catch let failure as ProxyRegistry.Failure {
            return Self.error(failure.status, failure.message)
        } catch let error as DecodingError {
            return Self.error(400, "bad request body: \(DecodingFailure.describe(error))")
        }
    }

    private func route(_ request: Request) async throws -> Response {
        let parts = request.uri.path.split(separator: "/").map(String.init)
        switch (request.method, parts.count, parts.first) {
        case (.get, 1, "version"):
            return Self.json(200) {
                $0.beginObject()
                $0.field("version", Self.version)
                $0.endObject()
            }
        case (.get, 1, "proxies"):
            let proxies = await self.registry.all
            return Self.json(200) { json in
                json.beginObject()
                for proxy in proxies {
                    json.key(proxy.name)
                    Self.write(proxy, into: &json)
                }
                json.endObject()
            }
        case (.post, 1, "proxies"):
            let spec = try await self.decode(ProxyRegistry.Spec.self, from: request)
            let proxy = try await self.registry.create(spec)
            return Self.json(201) { Self.write(proxy, into: &$0) }
        case (.post, 1, "populate"):
            let specs = try await self.decode([ProxyRegistry.Spec].self, from: request)
            var created: [Proxy] = []
            for spec in specs {
                if let name = spec.name, (try? await self.registry.proxy(named: name)) != nil {
                    try await self.registry.delete(name)
                }
                created.append(try await self.registry.create(spec))
            }
            return Self.json(201) { json in
                json.beginObject()
                json.key("proxies")
                json.beginArray()
                for proxy in created { Self.write(proxy, into: &json) }
                json.endArray()
                json.endObject()
            }
        case (.post, 1, "reset"):
            await self.registry.reset()
            return Response(status: .noContent)
        case (.get, 1, "events"):
            return self.events(request)
        case (.get, 1, "seed"):
            return self.seed()
        case (.put, 1, "seed"), (.post, 1, "seed"):
            struct Body: Decodable { var seed: UInt64 }
            await self.registry.reseed(try await self.decode(Body.self, from: request).seed)
            return self.seed()
        case (.get, 1, "metrics"):
            var buffer: [UInt8] = []
            self.registry.environment.metrics.registry.emit(into: &buffer)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        case (.delete, 3, "proxies") where parts[2] == "connections":
            let proxy = try await self.registry.proxy(named: parts[1])
            let reset = request.uri.queryParameters.get("reset") != "false"
            let dropped = await proxy.dropConnections(reset: reset)
            return Self.json(200) {
                $0.beginObject()
                $0.field("dropped", dropped)
                $0.endObject()
            }
        case (.get, 2, "proxies"):
            let proxy = try await self.registry.proxy(named: parts[1])
            return Self.json(200) { Self.write(proxy, into: &$0) }
        case (.post, 2, "proxies"), (.patch, 2, "proxies"):
            let spec = try await self.decode(ProxyRegistry.Spec.self, from: request)
            let proxy = try await self.registry.update(parts[1], spec)
            return Self.json(200) { Self.write(proxy, into: &$0) }
        case (.delete, 2, "proxies"):
            try await self.registry.delete(parts[1])
            return Response(status: .noContent)
        case (_, 3, "proxies") where parts[2] == "toxics", (_, 4, "proxies") where parts[2] == "toxics":
            return try await self.toxics(request, proxy: try await self.registry.proxy(named: parts[1]), parts: parts)
        default:
            return Self.error(404, "route not found")
        }
    }

    /// `/proxies/{name}/toxics[/{toxic}]`.
    private func toxics(_ request: Request, proxy: Proxy, parts: [String]) async throws -> Response {
        switch (request.method, parts.count) {
        case (.get, 3):
            let toxics = proxy.toxics
            return Self.json(200) { json in
                json.beginArray()
                for toxic in toxics { toxic.write(into: &json) }
                json.endArray()
            }
        case (.post, 3):
            let spec = try await self.decode(ToxicSpec.self, from: request)
            guard let type = spec.type else {
                throw ProxyRegistry.Failure(status: 400, message: "missing required field: type")
            }
            let toxic = try await proxy.addToxic(try spec.toxic(type: type))
            return Self.json(200) { toxic.write(into: &$0) }
        case (.get, 4):
            guard let toxic = proxy.toxics.first(where: { $0.name == parts[3] }) else {
                throw ProxyRegistry.Failure(status: 404, message: "toxic not found")
            }
            return Self.json(200) { toxic.write(into: &$0) }
        case (.post, 4), (.patch, 4):
            let spec = try await self.decode(ToxicSpec.self, from: request)
            let toxic = try await proxy.updateToxic(parts[3], with: spec)
            return Self.json(200) { toxic.write(into: &$0) }
        case (.delete, 4):
            try await proxy.removeToxic(parts[3])
            return Response(status: .noContent)
        default:
            return Self.error(405, "method not allowed")
        }
    }

    /// `GET /events?after=N&proxy=NAME`: the decision journal, oldest first.
    private func events(_ request: Request) -> Response {
        let after = Int(request.uri.queryParameters.get("after") ?? "") ?? 0
        let proxy = request.uri.queryParameters.get("proxy")
        let events = self.registry.environment.journal.events(after: after, proxy: proxy)
        return Self.json(200) { json in
            json.beginObject()
            Self.seed(self.registry.environment.seed, into: &json)
            json.key("events")
            json.beginArray()
            for event in events { EventJournal.write(event, into: &json) }
            json.endArray()
            json.endObject()
        }
    }

    /// The seed as a JSON number, or as a string when it is beyond what JSON numbers hold exactly.
    private static func seed(_ seed: UInt64, into json: inout JSONWriter) {
        if seed < 1 << 53 { json.field("seed", Int(seed)) } else { json.field("seed", String(seed)) }
    }

    private func seed() -> Response {
        Self.json(200) {
            $0.beginObject()
            Self.seed(self.registry.environment.seed, into: &$0)
            $0.endObject()
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let body = try await request.body.collect(upTo: 1 << 20)
        return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }

    static func write(_ proxy: Proxy, into json: inout JSONWriter) {
        json.beginObject()
        json.field("name", proxy.name)
        json.field("listen", proxy.listen)
        json.field("upstream", proxy.upstream)
        json.field("enabled", proxy.enabled)
        json.key("toxics")
        json.beginArray()
        for toxic in proxy.toxics { toxic.write(into: &json) }
        json.endArray()
        json.endObject()
    }

    static func json(_ status: Int, _ build: (inout JSONWriter) -> Void) -> Response {
        var json = JSONWriter()
        build(&json)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(
            status: .init(code: status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: json.bytes))
        )
    }

    static func error(_ status: Int, _ message: String) -> Response {
        Self.json(status) { json in
            json.beginObject()
            json.field("error", message)
            json.field("status", status)
            json.endObject()
        }
    }
}

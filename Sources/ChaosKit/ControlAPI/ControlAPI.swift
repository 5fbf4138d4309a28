import Foundation
import HTTPTypes
import Hummingbird
import JSONWriting
import Prometheus

/// The Toxiproxy-compatible control API: `/version`, `/proxies`, `/proxies/{name}`, `/populate`,
/// `/reset`, `/proxies/{name}/toxics[/{toxic}]`, with Toxiproxy's status codes and
/// `{"error": …, "status": …}` bodies; plus our own `/events`, `/seed`, `/metrics` and
/// `DELETE /proxies/{name}/connections`.
struct ControlAPI: Sendable {
    let registry: ProxyRegistry
    /// When set, every request that changes state needs `Authorization: Bearer <token>`.
    let token: String?
    static let version = "2.12.0-chaos"

    /// The routes on Hummingbird's router. Failures are thrown and turned into Toxiproxy's error
    /// bodies in one place (``ToxiproxyErrorMiddleware``).
    func responder() -> RouterResponder<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ToxiproxyErrorMiddleware())
        if let token = self.token { router.add(middleware: BearerTokenMiddleware(token: token)) }

        router.get("version") { _, _ in
            Self.json(200) {
                $0.beginObject()
                $0.field("version", Self.version)
                $0.endObject()
            }
        }
        router.get("proxies") { _, _ in
            let proxies = await self.registry.all
            return Self.json(200) { json in
                json.beginObject()
                for proxy in proxies {
                    json.key(proxy.name)
                    Self.write(proxy, into: &json)
                }
                json.endObject()
            }
        }
        router.post("proxies") { request, _ in
            let proxy = try await self.registry.create(try await Self.decode(ProxyRegistry.Spec.self, from: request))
            return Self.json(201) { Self.write(proxy, into: &$0) }
        }
        router.post("populate") { request, _ in try await self.populate(request) }
        router.post("reset") { _, _ in
            try await self.registry.reset()
            return Response(status: .noContent)
        }
        router.get("events") { request, _ in self.events(request) }
        router.get("seed") { _, _ in self.seed() }
        for method in [HTTPRequest.Method.put, .post] {
            router.on("seed", method: method) { request, _ in
                struct Body: Decodable { var seed: UInt64 }
                await self.registry.reseed(try await Self.decode(Body.self, from: request).seed)
                return self.seed()
            }
        }
        router.get("metrics") { _, _ in
            var buffer: [UInt8] = []
            self.registry.environment.metrics.registry.emit(into: &buffer)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        self.addProxyRoutes(router)
        self.addToxicRoutes(router)
        return router.buildResponder()
    }

    /// `/proxies/{name}` and `/proxies/{name}/connections`.
    private func addProxyRoutes(_ router: Router<BasicRequestContext>) {
        router.get("proxies/:name") { _, context in
            let proxy = try await self.registry.proxy(named: try context.parameters.require("name"))
            return Self.json(200) { Self.write(proxy, into: &$0) }
        }
        for method in [HTTPRequest.Method.post, .patch] {
            router.on("proxies/:name", method: method) { request, context in
                let spec = try await Self.decode(ProxyRegistry.Spec.self, from: request)
                let proxy = try await self.registry.update(try context.parameters.require("name"), spec)
                return Self.json(200) { Self.write(proxy, into: &$0) }
            }
        }
        router.delete("proxies/:name") { _, context in
            try await self.registry.delete(try context.parameters.require("name"))
            return Response(status: .noContent)
        }
        router.delete("proxies/:name/connections") { request, context in
            let proxy = try await self.registry.proxy(named: try context.parameters.require("name"))
            let dropped = await proxy.dropConnections(reset: request.uri.queryParameters.get("reset") != "false")
            return Self.json(200) {
                $0.beginObject()
                $0.field("dropped", dropped)
                $0.endObject()
            }
        }
    }

    /// `/proxies/{name}/toxics[/{toxic}]`.
    private func addToxicRoutes(_ router: Router<BasicRequestContext>) {
        router.get("proxies/:name/toxics") { _, context in
            let toxics = try await self.registry.proxy(named: try context.parameters.require("name")).toxics
            return Self.json(200) { json in
                json.beginArray()
                for toxic in toxics { toxic.write(into: &json) }
                json.endArray()
            }
        }
        router.post("proxies/:name/toxics") { request, context in
            let proxy = try await self.registry.proxy(named: try context.parameters.require("name"))
            let spec = try await Self.decode(ToxicSpec.self, from: request)
            guard let type = spec.type else {
                throw ProxyRegistry.Failure(status: 400, message: "missing required field: type")
            }
            let toxic = try await proxy.addToxic(try spec.toxic(type: type))
            return Self.json(200) { toxic.write(into: &$0) }
        }
        router.get("proxies/:name/toxics/:toxic") { _, context in
            let proxy = try await self.registry.proxy(named: try context.parameters.require("name"))
            let name = try context.parameters.require("toxic")
            guard let toxic = proxy.toxics.first(where: { $0.name == name }) else {
                throw ProxyRegistry.Failure(status: 404, message: "toxic not found")
            }
            return Self.json(200) { toxic.write(into: &$0) }
        }
        for method in [HTTPRequest.Method.post, .patch] {
            router.on("proxies/:name/toxics/:toxic", method: method) { request, context in
                let proxy = try await self.registry.proxy(named: try context.parameters.require("name"))
                let spec = try await Self.decode(ToxicSpec.self, from: request)
                let toxic = try await proxy.updateToxic(try context.parameters.require("toxic"), with: spec)
                return Self.json(200) { toxic.write(into: &$0) }
            }
        }
        router.delete("proxies/:name/toxics/:toxic") { _, context in
            let proxy = try await self.registry.proxy(named: try context.parameters.require("name"))
            try await proxy.removeToxic(try context.parameters.require("toxic"))
            return Response(status: .noContent)
        }
    }

    /// `POST /populate`: creates (or re-creates) every proxy in the body.
    private func populate(_ request: Request) async throws -> Response {
        var created: [Proxy] = []
        for spec in try await Self.decode([ProxyRegistry.Spec].self, from: request) {
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

    private static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
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

/// Turns every failure into Toxiproxy's `{"error": …, "status": …}` body: the registry's own
/// failures with their status, an undecodable body as 400 saying where, an unknown route as 404.
struct ToxiproxyErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let failure as ProxyRegistry.Failure {
            return ControlAPI.error(failure.status, failure.message)
        } catch let error as DecodingError {
            return ControlAPI.error(400, "bad request body: \(DecodingFailure.describe(error))")
        } catch let error as HTTPError where error.status == .notFound {
            return ControlAPI.error(404, "route not found")
        } catch let error as HTTPError {
            return ControlAPI.error(Int(error.status.code), error.body ?? error.status.reasonPhrase)
        }
    }
}

/// With a token set, every request that changes state needs `Authorization: Bearer <token>`.
struct BearerTokenMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let token: String

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard
            request.method == .get || request.method == .head
                || request.headers[.authorization] == "Bearer \(self.token)"
        else {
            return ControlAPI.error(401, "missing or wrong bearer token")
        }
        return try await next(request, context)
    }
}

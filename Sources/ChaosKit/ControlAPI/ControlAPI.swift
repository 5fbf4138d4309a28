import Foundation
import HTTPTypes
import Hummingbird
import JSONWriting

/// The Toxiproxy-compatible control API: `/version`, `/proxies`, `/proxies/{name}`, `/populate`,
/// `/reset`, with Toxiproxy's status codes and `{"error": …, "status": …}` bodies.
struct ControlAPI: HTTPResponder {
    typealias Context = BasicRequestContext

    let registry: ProxyRegistry
    static let version = "2.12.0-chaos"

    func respond(to request: Request, context: Context) async throws -> Response {
        do {
            return try await self.route(request)
        } catch let failure as ProxyRegistry.Failure {
            return Self.error(failure.status, failure.message)
        } catch is DecodingError {
            return Self.error(400, "bad request body")
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
            _ = try await self.registry.proxy(named: parts[1])
            if request.method == .get && parts.count == 3 {
                return Self.json(200) {
                    $0.beginArray()
                    $0.endArray()
                }
            }
            return Self.error(501, "toxics are not implemented yet")
        default:
            return Self.error(404, "route not found")
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

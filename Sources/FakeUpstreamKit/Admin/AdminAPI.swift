import Foundation
import HTTPTypes
import Hummingbird
import JSONWriting

/// `/__admin/…`: behaviours, the request journal and the known answer, WireMock-style, on
/// Hummingbird's router. Failures are thrown and rendered as problem documents in one place
/// (``AdminProblemMiddleware``).
struct AdminAPI: Sendable {
    let store: BehaviorStore
    let dataset: CharacterDataset

    func responder() -> RouterResponder<FakeRequestContext> {
        let router = Router(context: FakeRequestContext.self)
        router.add(middleware: AdminProblemMiddleware())
        let admin = router.group("__admin")
        admin.get("behaviors") { _, _ in try Self.json(200, ["behaviors": self.store.behaviors]) }
        admin.post("behaviors") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            return try Self.json(201, try self.store.add(try Behavior.decode(json: Data(body.readableBytesView))))
        }
        admin.delete("behaviors") { _, _ in
            self.store.removeAll()
            return Response(status: .noContent)
        }
        admin.delete("behaviors/:id") { _, context in
            let id = try context.parameters.require("id")
            guard self.store.remove(id: id) else {
                throw AdminFailure(status: 404, detail: "No behaviour has id \(id).")
            }
            return Response(status: .noContent)
        }
        admin.get("requests") { request, _ in
            let items = QueryItems.parse(request.uri.query)
            var filter: [String: String] = [:]
            for item in items where item.name != "path" { filter[item.name] = item.value }
            let entries = self.store.requests(path: items.last { $0.name == "path" }?.value, query: filter)
            return try Self.json(200, JournalPage(count: entries.count, requests: entries))
        }
        admin.delete("requests") { _, _ in
            self.store.clearJournal()
            return Response(status: .noContent)
        }
        admin.post("reset") { _, _ in
            self.store.reset()
            return Response(status: .noContent)
        }
        admin.get("known-answer") { _, _ in
            let ids = self.dataset.knownAnswer
            return try Self.json(200, KnownAnswer(count: ids.count, ids: ids))
        }
        return router.buildResponder()
    }

    private struct JournalPage: Encodable {
        let count: Int
        let requests: [JournalEntry]
    }

    private struct KnownAnswer: Encodable {
        let count: Int
        let ids: [Int]
    }

    static func json(_ status: Int, _ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func problem(_ status: Int, _ detail: String, path: String) -> Response {
        let titles = [400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"]
        var json = JSONWriter(capacity: 200)
        json.beginObject()
        json.field("type", "about:blank")
        json.field("title", titles[status] ?? "Error")
        json.field("status", status)
        json.field("detail", detail)
        json.field("instance", path)
        json.endObject()
        let data = json.bytes
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Decoded query pairs in order (`+` is a space, `%XX` a byte).
enum QueryItems {
    static func parse(_ query: String?) -> [(name: String, value: String)] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }
}

/// An admin request that cannot be served, with the status to answer.
struct AdminFailure: Error {
    let status: Int
    let detail: String
}

/// Every admin failure as a problem document: a refused behaviour (400, saying what and where),
/// an unknown id (404), an unknown route or method (404).
struct AdminProblemMiddleware: RouterMiddleware {
    typealias Context = FakeRequestContext

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        do {
            return try await next(request, context)
        } catch let error as BehaviorError {
            return AdminAPI.problem(400, error.message, path: path)
        } catch let failure as AdminFailure {
            return AdminAPI.problem(failure.status, failure.detail, path: path)
        } catch let error as HTTPError where error.status == .notFound {
            return AdminAPI.problem(404, "No admin route \(request.method.rawValue) \(path).", path: path)
        } catch {
            return AdminAPI.problem(400, "The request could not be read.", path: path)
        }
    }
}

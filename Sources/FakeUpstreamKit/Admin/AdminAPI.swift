import Foundation
import HTTPTypes
import Hummingbird
import JSONWriting

/// `/__admin/…`: behaviours, the request journal and the known answer, WireMock-style.
struct AdminAPI: Sendable {
    let store: BehaviorStore
    let dataset: CharacterDataset

    func respond(to request: Request, path: String) async -> Response {
        do {
            return try await self.route(request, path: path)
        } catch let error as BehaviorError {
            return Self.problem(400, error.message, path: path)
        } catch {
            return Self.problem(400, "The request could not be read.", path: path)
        }
    }

    private func route(_ request: Request, path: String) async throws -> Response {
        let method = request.method
        switch (method, path) {
        case (.get, "/__admin/behaviors"):
            return try Self.json(200, ["behaviors": self.store.behaviors])
        case (.post, "/__admin/behaviors"):
            let body = try await request.body.collect(upTo: 1 << 20)
            let behavior = try Behavior.decode(json: Data(body.readableBytesView))
            return try Self.json(201, try self.store.add(behavior))
        case (.delete, "/__admin/behaviors"):
            self.store.removeAll()
            return Response(status: .noContent)
        case (.get, "/__admin/requests"):
            let items = QueryItems.parse(request.uri.query)
            var filter: [String: String] = [:]
            for item in items where item.name != "path" { filter[item.name] = item.value }
            let entries = self.store.requests(path: items.last { $0.name == "path" }?.value, query: filter)
            return try Self.json(200, JournalPage(count: entries.count, requests: entries))
        case (.delete, "/__admin/requests"):
            self.store.clearJournal()
            return Response(status: .noContent)
        case (.post, "/__admin/reset"):
            self.store.reset()
            return Response(status: .noContent)
        case (.get, "/__admin/known-answer"):
            let ids = self.dataset.knownAnswer
            return try Self.json(200, KnownAnswer(count: ids.count, ids: ids))
        default:
            if method == .delete, path.hasPrefix("/__admin/behaviors/") {
                let id = String(path.dropFirst("/__admin/behaviors/".count))
                return self.store.remove(id: id)
                    ? Response(status: .noContent) : Self.problem(404, "No behaviour has id \(id).", path: path)
            }
            return Self.problem(404, "No admin route \(method.rawValue) \(path).", path: path)
        }
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

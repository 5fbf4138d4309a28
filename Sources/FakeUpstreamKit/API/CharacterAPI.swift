import Foundation

/// The Rick and Morty API's character routes (docs/api.md, "The upstream API"), as a pure function of the
/// request, so every rule is unit-testable without sockets.
public struct CharacterAPI: Sendable {
    public let dataset: CharacterDataset
    public static let pageSize = 20
    static let filterNames = ["name", "status", "species", "type", "gender"]

    public init(dataset: CharacterDataset) {
        self.dataset = dataset
    }

    /// Answers `path` with `query` (decoded pairs, in order); links are built on `baseURL`
    /// (e.g. `http://127.0.0.1:8080/api`).
    public func respond(path: String, query: [(name: String, value: String)], baseURL: String) -> FakeResponse {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        switch trimmed {
        case "/api":
            return .json(
                200,
                Array(
                    #"{"characters":"\#(baseURL)/character","locations":"\#(baseURL)/location","episodes":"\#(baseURL)/episode"}"#
                        .utf8
                )
            )
        case "/api/character":
            // Links repeat the request's own path, trailing slash or not, as the real API's do.
            return self.list(query: query, linkBase: baseURL + path.dropFirst("/api".count))
        default:
            if trimmed.hasPrefix("/api/character/") {
                return self.byID(String(trimmed.dropFirst("/api/character/".count)))
            }
            return .error(404, "There is nothing here")
        }
    }

    /// The filters of a request, last value wins, trimmed of surrounding spaces.
    static func filters(_ query: [(name: String, value: String)]) -> [(name: String, value: String)] {
        var values: [String: String] = [:]
        for item in query where Self.filterNames.contains(item.name) {
            values[item.name] = item.value.trimmingCharacters(in: .whitespaces)
        }
        return Self.filterNames.compactMap { name in values[name].map { (name, $0) } }
    }

    /// Whether `character` matches every filter: case-insensitive substring, gender from its start.
    static func matches(_ character: CharacterSummary, _ filters: [(name: String, value: String)]) -> Bool {
        for (name, value) in filters {
            let needle = value.lowercased()
            let field: String
            switch name {
            case "name": field = character.name
            case "status": field = character.status
            case "species": field = character.species
            case "type": field = character.type
            default: field = character.gender
            }
            let haystack = field.lowercased()
            if name == "gender" {
                if !haystack.hasPrefix(needle) { return false }
            } else if !needle.isEmpty && !haystack.contains(needle) {
                return false
            }
        }
        return true
    }

    /// A page of the list; `linkBase` is the absolute URL of the requested path, for `next`/`prev`.
    private func list(query: [(name: String, value: String)], linkBase: String) -> FakeResponse {
        let filters = Self.filters(query)
        // Unfiltered pages are plain arithmetic on positions; only filters need a scan.
        let matching: [Int]? =
            filters.isEmpty
            ? nil : self.dataset.characters.indices.filter { Self.matches(self.dataset.characters[$0], filters) }
        let total = matching?.count ?? self.dataset.characters.count
        guard total > 0 else { return .error(404, "There is nothing here") }
        let pages = (total + Self.pageSize - 1) / Self.pageSize
        let requested = query.last { $0.name == "page" }.flatMap { Int($0.value) } ?? 1
        let page = requested <= 0 ? 1 : requested
        guard page <= pages else { return .error(404, "There is nothing here") }

        let suffix = filters.map { "&\($0.name)=\(Self.encode($0.value))" }.joined()
        func link(_ number: Int) -> String { "\"\(linkBase)?page=\(number)\(suffix)\"" }
        var body: [UInt8] = []
        body.reserveCapacity(Self.pageSize * 700)
        body += Array(#"{"info":{"count":\#(total),"pages":\#(pages),"next":"#.utf8)
        body += Array((page < pages ? link(page + 1) : "null").utf8)
        body += Array(#","prev":"#.utf8)
        body += Array((page > 1 ? link(page - 1) : "null").utf8)
        body += Array(#"},"results":["#.utf8)
        let start = (page - 1) * Self.pageSize
        for offset in start..<min(start + Self.pageSize, total) {
            if offset > start { body.append(UInt8(ascii: ",")) }
            body += self.dataset.encoded(at: matching?[offset] ?? offset)
        }
        body += Array("]}".utf8)
        return .json(200, body)
    }

    private func byID(_ text: String) -> FakeResponse {
        var list = Substring(text)
        let bracketed = list.hasPrefix("[") && list.hasSuffix("]") && list.count >= 2
        if bracketed { list = list.dropFirst().dropLast() }
        let parts = list.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        if parts.count == 1 && !bracketed {
            guard let id = Int(parts[0]), let position = self.dataset.position(of: id) else {
                return .error(404, "Character not found")
            }
            return .json(200, Array(self.dataset.encoded(at: position)))
        }
        let ids = Set(parts.compactMap { Int($0) }).sorted()
        var body: [UInt8] = [UInt8(ascii: "[")]
        var first = true
        for id in ids {
            guard let position = self.dataset.position(of: id) else { continue }
            if !first { body.append(UInt8(ascii: ",")) }
            body += self.dataset.encoded(at: position)
            first = false
        }
        body.append(UInt8(ascii: "]"))
        return .json(200, body)
    }

    private static func encode(_ value: String) -> String {
        // RFC 3986 unreserved characters only, so non-ASCII letters are percent-encoded too.
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}

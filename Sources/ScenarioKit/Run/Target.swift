import Foundation
import Native

/// The system a scenario runs against, over HTTP only: a lab the runner started, one `lab up`
/// runs, or a Kind cluster through port-forwards.
public struct Target: Sendable {
    public var app: String
    public var chaos: String
    public var fakeUpstream: String
    /// Chaos's control API token, sent as a Bearer token (the chart's lab mode sets one).
    public var chaosToken: String?
    /// Whether the runner started this lab itself.
    public var startedHere: Bool
    /// The `lab up` behind these URLs, when it runs on this machine: what `app` steps signal.
    public var lab: LocalLab?
    let http = CurlHTTPClient()

    public init(
        app: String,
        chaos: String,
        fakeUpstream: String,
        chaosToken: String? = nil,
        startedHere: Bool = false,
        lab: LocalLab? = nil
    ) {
        func trimmed(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }
        self.app = trimmed(app)
        self.chaos = trimmed(chaos)
        self.fakeUpstream = trimmed(fakeUpstream)
        self.chaosToken = chaosToken
        self.startedHere = startedHere
        self.lab = lab
    }

    /// A call to Chaos's control API that must succeed (2xx).
    @discardableResult
    func chaos(_ method: String, _ path: String, _ body: String? = nil) throws -> HTTPExchange {
        let headers = self.chaosToken.map { [("Authorization", "Bearer \($0)")] } ?? []
        return try self.succeed(method, "\(self.chaos)\(path)", body, headers: headers)
    }

    /// A call to FakeUpstream's admin API that must succeed (2xx).
    @discardableResult
    func upstreamAdmin(_ method: String, _ path: String, _ body: String? = nil) throws -> HTTPExchange {
        try self.succeed(method, "\(self.fakeUpstream)/__admin\(path)", body, headers: [])
    }

    private func succeed(
        _ method: String,
        _ url: String,
        _ body: String?,
        headers: [(String, String)]
    ) throws
        -> HTTPExchange
    {
        let exchange = try self.http.request(
            method,
            url,
            body: body,
            timeout: 10,
            headers: headers + (body == nil ? [] : [("Content-Type", "application/json")])
        )
        guard (200..<300).contains(exchange.status) else {
            let text = String(decoding: exchange.body.prefix(300), as: UTF8.self)
            throw RunFailure("\(method) \(url) answered \(exchange.status): \(text)")
        }
        return exchange
    }

    func get(_ path: String) throws -> HTTPExchange {
        try self.http.get("\(self.app)\(path)", timeout: 5)
    }

    func json(_ exchange: HTTPExchange) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(exchange.body))) as? [String: Any] ?? [:]
    }

    /// Every id the App serves, read page by page in id order.
    func storedIDs() throws -> [Int] {
        var ids: [Int] = []
        var page = 1
        while page < 10_000 {
            let body = self.json(try self.get("/characters?page=\(page)&page_size=100&sort=id"))
            let results = body["results"] as? [[String: Any]] ?? []
            ids += results.compactMap { $0["id"] as? Int }
            guard !results.isEmpty, ids.count < body["total_count"] as? Int ?? 0 else { break }
            page += 1
        }
        return ids.sorted()
    }

    /// The ids the App should store, according to FakeUpstream.
    func knownAnswer() throws -> [Int] {
        ((self.json(try self.upstreamAdmin("GET", "/known-answer"))["ids"] as? [Int]) ?? []).sorted()
    }

    /// What the App should store from the upstream as it answers now (Human, Alive, origin
    /// `Earth (…)`), read page by page from FakeUpstream's API with its behaviours in force.
    func upstreamSnapshot() throws -> [Int] {
        var ids: [Int] = []
        var page = 1
        while page <= 10_000 {
            let body = self.json(try self.http.get("\(self.fakeUpstream)/api/character?page=\(page)", timeout: 5))
            for character in body["results"] as? [[String: Any]] ?? [] {
                let origin = (character["origin"] as? [String: Any])?["name"] as? String ?? ""
                if character["species"] as? String == "Human", character["status"] as? String == "Alive",
                    origin.hasPrefix("Earth ("), origin.hasSuffix(")"), let id = character["id"] as? Int
                {
                    ids.append(id)
                }
            }
            guard let info = body["info"] as? [String: Any], page < info["pages"] as? Int ?? 0 else { break }
            page += 1
        }
        return ids.sorted()
    }

    /// One App metric sample (`name{labels}` exactly as exposed), or nil when absent.
    func metric(_ sample: String) throws -> Double? {
        let text = String(decoding: try self.get("/metrics").body, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1))
        }
        return nil
    }
}

/// Why a run could not go on (exit 2), in one line.
public struct RunFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

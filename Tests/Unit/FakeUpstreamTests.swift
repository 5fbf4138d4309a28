import Foundation
import Testing

@testable import FakeUpstreamKit

@Suite("FakeUpstream: dataset and character API")
struct FakeUpstreamTests {
    let api = CharacterAPI(dataset: .generate(count: 826, seed: 1))
    let base = "http://fake/api"

    private func json(_ response: FakeResponse) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(response.body))
    }

    private func page(_ query: [(String, String)]) -> FakeResponse {
        self.api.respond(path: "/api/character", query: query.map { (name: $0.0, value: $0.1) }, baseURL: self.base)
    }

    @Test("the same seed gives the same bytes; another seed does not")
    func determinism() {
        let a = CharacterDataset.generate(count: 300, seed: 42)
        let b = CharacterDataset.generate(count: 300, seed: 42)
        let c = CharacterDataset.generate(count: 300, seed: 43)
        #expect(a.characters == b.characters)
        #expect(a.characters != c.characters)
        #expect(a.characters.count == 300)
    }

    @Test("characters carry the twelve fields in the real API's key order")
    func schema() throws {
        let response = self.api.respond(path: "/api/character/1", query: [], baseURL: self.base)
        let text = String(decoding: response.body, as: UTF8.self)
        let keys = [
            "\"id\"", "\"name\"", "\"status\"", "\"species\"", "\"type\"", "\"gender\"", "\"origin\"", "\"location\"",
            "\"image\"", "\"episode\"", "\"url\":\"https://rickandmortyapi.com/api/character/", "\"created\"",
        ]
        let positions = keys.compactMap { text.range(of: $0)?.lowerBound }
        #expect(positions.count == 12)
        #expect(positions == positions.sorted())
        let object = try #require(self.json(response) as? [String: Any])
        let created = try #require(object["created"] as? String)
        #expect(created.hasSuffix("Z") && created.contains("."))
    }

    @Test("826 characters are 42 pages of 20 with absolute next/prev links")
    func paging() throws {
        let first = try #require(self.json(self.page([])) as? [String: Any])
        let info = try #require(first["info"] as? [String: Any])
        #expect(info["count"] as? Int == 826)
        #expect(info["pages"] as? Int == 42)
        #expect(info["next"] as? String == "http://fake/api/character?page=2")
        #expect(info["prev"] is NSNull)
        #expect((first["results"] as? [Any])?.count == 20)
        let last = try #require(self.json(self.page([("page", "42")])) as? [String: Any])
        #expect((last["info"] as? [String: Any])?["next"] is NSNull)
        #expect((last["results"] as? [Any])?.count == 6)
        #expect(self.page([("page", "43")]).status == 404)
        #expect(
            String(decoding: self.page([("page", "43")]).body, as: UTF8.self) == #"{"error":"There is nothing here"}"#
        )
    }

    @Test("next and prev repeat the request's own path, with or without the trailing slash")
    func linksFollowThePath() throws {
        for path in ["/api/character", "/api/character/"] {
            let response = self.api.respond(path: path, query: [(name: "page", value: "2")], baseURL: self.base)
            let info = try #require((self.json(response) as? [String: Any])?["info"] as? [String: Any])
            #expect(info["next"] as? String == "http://fake\(path)?page=3")
            #expect(info["prev"] as? String == "http://fake\(path)?page=1")
        }
    }

    @Test("page 0, negative or garbage is page 1")
    func pageOne() {
        let one = self.page([]).body
        for value in ["0", "-3", "abc", ""] { #expect(self.page([("page", value)]).body == one, "\(value)") }
    }

    @Test("filters are trimmed case-insensitive substrings, gender from its start, and kept in links")
    func filters() throws {
        let rick = try #require(self.json(self.page([("name", "  RICK ")])) as? [String: Any])
        let names = (rick["results"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(!names.isEmpty && names.allSatisfy { $0.lowercased().contains("rick") })
        let male = try #require(self.json(self.page([("gender", "male")])) as? [String: Any])
        let genders = Set((male["results"] as? [[String: Any]] ?? []).compactMap { $0["gender"] as? String })
        #expect(genders == ["Male"], "male must not match Female")
        let many = try #require(self.json(self.page([("status", "alive")])) as? [String: Any])
        #expect(((many["info"] as? [String: Any])?["next"] as? String)?.hasSuffix("page=2&status=alive") == true)
        #expect(self.page([("name", "zzzz-nobody")]).status == 404)
    }

    @Test("lists of ids answer an array, each id once, in id order")
    func ids() throws {
        for path in ["/api/character/3,1,2,3", "/api/character/[3,1,2]"] {
            let list = try #require(
                self.json(self.api.respond(path: path, query: [], baseURL: self.base)) as? [[String: Any]]
            )
            #expect(list.compactMap { $0["id"] as? Int } == [1, 2, 3])
        }
        #expect(self.api.respond(path: "/api/character/99999", query: [], baseURL: self.base).status == 404)
    }

    @Test("the known answer is exactly the characters App's filter keeps, and the data exercises the rule")
    func knownAnswer() {
        let dataset = CharacterDataset.generate(count: 826, seed: 1)
        let kept = dataset.characters.filter {
            $0.species == "Human" && $0.status == "Alive" && $0.originName.hasPrefix("Earth (")
        }
        #expect(dataset.knownAnswer == kept.map(\.id))
        let origins = Set(dataset.characters.map(\.originName))
        for tricky in ["Earth", "Earthworm Moon", "earth (C-35)", "Earth(C-22)"] { #expect(origins.contains(tricky)) }
    }
}

@Suite("FakeUpstream: behaviours")
struct BehaviorStoreTests {
    private func request(_ path: String, _ query: [(String, String)] = []) -> RecordedRequest {
        RecordedRequest(method: "GET", path: path, query: query.map { (name: $0.0, value: $0.1) }, headers: [:])
    }

    @Test("times uses a behaviour up; the journal filters by path and query")
    func times() throws {
        let store = BehaviorStore(seed: 1)
        try store.add(
            Behavior(match: .init(path: "/api/character", query: ["page": "3"]), action: .init(status: 503), times: 2)
        )
        #expect(store.behaviors.first?.id == "b1")
        let page3 = self.request("/api/character", [("page", "3")])
        #expect(store.select(for: self.request("/api/character", [("page", "2")])) == nil)
        #expect(store.select(for: page3)?.id == "b1")
        #expect(store.select(for: page3)?.id == "b1")
        #expect(store.select(for: page3) == nil, "used up after two")
        #expect(store.behaviors.isEmpty)
        store.record(page3, status: 503, behavior: "b1", at: 1)
        store.record(self.request("/api"), status: 200, behavior: nil, at: 2)
        #expect(store.requests(path: "/api/character", query: ["page": "3"]).count == 1)
        #expect(store.requests().count == 2)
    }

    @Test("probability is decided by the seed: the same seed makes the same choices")
    func probability() throws {
        func choices(seed: UInt64) throws -> [Bool] {
            let store = BehaviorStore(seed: seed)
            try store.add(Behavior(action: .init(status: 500), probability: 0.5))
            return (0..<64).map { _ in store.select(for: self.request("/api")) != nil }
        }
        let first = try choices(seed: 9)
        #expect(try choices(seed: 9) == first)
        #expect(first.contains(true) && first.contains(false))
    }

    @Test("latency samples stay in their distribution and repeat for the same seed")
    func latency() {
        let uniform = FaultAction.Latency(distribution: .uniform, ms: 100, maxMs: 200)
        let store = BehaviorStore(seed: 3)
        let samples = (0..<500).map { _ in store.sample(uniform) }
        #expect(samples.allSatisfy { (100...200).contains($0) })
        #expect(samples.min()! < 120 && samples.max()! > 180)
        let again = BehaviorStore(seed: 3)
        #expect((0..<500).map { _ in again.sample(uniform) } == samples)
        let lognormal = FaultAction.Latency(distribution: .lognormal, ms: 50, sigma: 0.5)
        let drawn = (0..<2001).map { _ in store.sample(lognormal) }.sorted()
        #expect(abs(drawn[1000] - 50) < 5, "the median is near 50 ms: \(drawn[1000])")
        #expect(drawn.allSatisfy { $0 > 0 })
        #expect(store.sample(FaultAction.Latency(distribution: .fixed, ms: 42)) == 42)
    }

    @Test("a --config file with a misspelt key is refused with the key's place")
    func configUnknownKeys() {
        #expect(throws: BehaviorError(message: "unknown key behaviours (accepted here: behaviors)")) {
            try Behavior.decodeConfig(json: Data(#"{"behaviours":[]}"#.utf8))
        }
        #expect {
            try Behavior.decodeConfig(
                json: Data(#"{"behaviors":[{"action":{"status":500}},{"action":{},"tmes":1}]}"#.utf8)
            )
        } throws: { error in
            (error as? BehaviorError)?.message.hasPrefix("unknown key behaviors[1].tmes (accepted here: id, match,")
                == true
        }
        #expect(throws: Never.self) {
            let behaviors = try Behavior.decodeConfig(
                json: Data(#"{"behaviors":[{"match":{"headers":{"X-Anything":"1"}},"action":{"status":500}}]}"#.utf8)
            )
            #expect(behaviors.first?.match.headers == ["X-Anything": "1"], "header and query maps take any key")
        }
    }

    @Test("every n-th match and time windows")
    func everyAndWindows() throws {
        let store = BehaviorStore(seed: 1)
        try store.add(Behavior(action: .init(status: 500), every: 3), at: 1000)
        let hits = (0..<6).map { _ in store.select(for: self.request("/api"), at: 1000) != nil }
        #expect(hits == [false, false, true, false, false, true])
        store.removeAll()
        try store.add(Behavior(action: .init(status: 500), afterMs: 1000, forMs: 2000), at: 1000)
        #expect(store.select(for: self.request("/api"), at: 1000.5) == nil)
        #expect(store.select(for: self.request("/api"), at: 1001.5) != nil)
        #expect(store.select(for: self.request("/api"), at: 1003.5) == nil)
    }

    @Test("invalid behaviours are refused with a reason")
    func invalid() {
        let store = BehaviorStore(seed: 1)
        #expect(throws: BehaviorError.self) { try store.add(Behavior(action: .init(status: 999))) }
        #expect(throws: BehaviorError.self) { try store.add(Behavior(action: .init())) }
        #expect(throws: BehaviorError.self) { try store.add(Behavior(action: .init(status: 500), times: 0)) }
        #expect(throws: BehaviorError.self) { try store.add(Behavior(action: .init(status: 500), probability: 1.5)) }
        #expect(store.behaviors.isEmpty)
    }

    @Test("{{now+Ns}} in a header value is the HTTP-date N seconds after the answer; other text is kept")
    func headerTemplate() {
        let now = Date(timeIntervalSince1970: 1_764_756_000)  // Wed, 03 Dec 2025 10:00:00 GMT
        #expect(HeaderTemplate.expand("{{now+3s}}", now: now) == "Wed, 03 Dec 2025 10:00:03 GMT")
        #expect(HeaderTemplate.expand("a {{now}} b", now: now) == "a Wed, 03 Dec 2025 10:00:00 GMT b")
        #expect(HeaderTemplate.expand("{{now-2s}}", now: now) == "Wed, 03 Dec 2025 09:59:58 GMT")
        #expect(HeaderTemplate.expand("{{now+x}} 2", now: now) == "{{now+x}} 2")
        #expect(HeaderTemplate.expand("2", now: now) == "2")
    }
}

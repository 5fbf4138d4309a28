import FakeUpstreamKit
import Foundation
import TestSupport
import Testing

@testable import RickMortyAPI

/// Every integration suite lives under this one so that the suites run one after another: each
/// provisions real servers, and the machine has two cores.
@Suite("Integration", .serialized)
struct Integration {}

extension Integration {
    @Suite("Ingest from FakeUpstream and serve /characters")
    struct IngestTests {
        @Test("a full ingest stores exactly FakeUpstream's known answer", arguments: Backend.allCases)
        func fullIngest(backend: Backend) async throws {
            try await backend.withDatabase { database, _ in
                try await Harness.withFakeUpstream { upstream, fake in
                    try await Harness.withApp(try Harness.appConfig(database: database, upstream: upstream)) { app in
                        let ingested = await eventually { app.metric(#"ingest_runs_total{result="success"}"#) >= 1 }
                        #expect(ingested)
                        let expected = fake.dataset.knownAnswer
                        var ids: [Int] = []
                        var page = 1
                        while true {
                            let result = try await fetch("\(app.baseURL)/characters?page=\(page)&page_size=100")
                            #expect(result.status == 200)
                            let body = result.json
                            ids += (body["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
                            #expect(body["total_count"] as? Int == expected.count)
                            guard body["has_next"] as? Bool == true else { break }
                            page += 1
                        }
                        #expect(ids == expected)
                        // Every page of the upstream was asked for once, in order.
                        let pages = fake.store.requests(path: "/api/character").compactMap {
                            $0.query["page"].flatMap(Int.init)
                        }
                        #expect(pages == Array(1...42))
                    }
                }
            }
        }

        @Test("pages are identical on SQLite and PostgreSQL, including name ties and non-ASCII names")
        func identicalPages() async throws {
            try await Harness.withFakeUpstream(characters: 400, seed: 7) { upstream, fake in
                var bodies: [Backend: [String]] = [:]
                for backend in Backend.allCases {
                    try await backend.withDatabase { database, _ in
                        try await Harness.withApp(try Harness.appConfig(database: database, upstream: upstream)) {
                            app in
                            #expect(await eventually { app.metric(#"ingest_runs_total{result="success"}"#) >= 1 })
                            var collected: [String] = []
                            for order in ["asc", "desc"] {
                                for sort in ["name", "id"] {
                                    for page in 1...4 {
                                        let result = try await fetch(
                                            "\(app.baseURL)/characters?sort=\(sort)&order=\(order)&page=\(page)&page_size=13"
                                        )
                                        collected.append(result.body)
                                    }
                                }
                            }
                            bodies[backend] = collected
                        }
                    }
                }
                #expect(bodies[.sqlite] == bodies[.postgres])
                // The data really has ties and non-ASCII names, or the comparison proves little.
                let kept = fake.dataset.characters.filter(\.passesAppFilter)
                #expect(Set(kept.map(\.name)).count < kept.count, "no duplicate names among kept characters")
                #expect(
                    kept.contains { $0.name.utf8.contains { $0 >= 0x80 } },
                    "no non-ASCII names among kept characters"
                )
            }
        }

        @Test("sort=name is byte order with ties broken by id in the same direction", arguments: Backend.allCases)
        func nameOrder(backend: Backend) async throws {
            try await backend.withDatabase { database, _ in
                try await Harness.withFakeUpstream(characters: 300, seed: 3) { upstream, fake in
                    try await Harness.withApp(try Harness.appConfig(database: database, upstream: upstream)) { app in
                        #expect(await eventually { app.metric(#"ingest_runs_total{result="success"}"#) >= 1 })
                        let kept = fake.dataset.characters.filter(\.passesAppFilter)
                        for order in ["asc", "desc"] {
                            let result = try await fetch(
                                "\(app.baseURL)/characters?sort=name&order=\(order)&page_size=100"
                            )
                            let rows = (result.json["results"] as? [[String: Any]] ?? []).map {
                                ($0["name"] as? String ?? "", $0["id"] as? Int ?? 0)
                            }
                            var expected = kept.map { ($0.name, $0.id) }.sorted { lhs, rhs in
                                let left = Array(lhs.0.utf8)
                                let right = Array(rhs.0.utf8)
                                return left == right ? lhs.1 < rhs.1 : left.lexicographicallyPrecedes(right)
                            }
                            if order == "desc" { expected.reverse() }
                            #expect(rows.map(\.0) == Array(expected.prefix(100)).map(\.0))
                            #expect(rows.map(\.1) == Array(expected.prefix(100)).map(\.1))
                        }
                    }
                }
            }
        }
    }
}

import AsyncHTTPClient
import FakeUpstreamKit
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

@testable import RickMortyAPI

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite("FakeUpstream faults as a real HTTP client sees them")
    struct FakeUpstreamFaultTests {
        private func add(_ fake: FakeUpstreamServer, _ json: String) throws {
            try fake.store.add(JSONDecoder().decode(Behavior.self, from: Data(json.utf8)))
        }

        /// Sends a request and returns the error the client saw, or nil when a response arrived.
        private func failure(_ url: String, timeout: TimeAmount = .seconds(10)) async -> (any Error)? {
            do {
                let response = try await Harness.http.execute(HTTPClientRequest(url: url), timeout: timeout)
                _ = try await response.body.collect(upTo: 1 << 20)
                return nil
            } catch {
                return error
            }
        }

        @Test("status faults with times, then the real answer; the journal records each")
        func statusTimes() async throws {
            try await Harness.withFakeUpstream { api, fake in
                try self.add(
                    fake,
                    #"{"match":{"path":"/api/character","query":{"page":"3"}},"action":{"status":503,"headers":{"Retry-After":"2"}},"times":2}"#
                )
                let first = try await fetch("\(api)/character?page=3")
                #expect(first.status == 503)
                #expect(first.headers.first(name: "Retry-After") == "2")
                #expect(try await fetch("\(api)/character?page=3").status == 503)
                #expect(try await fetch("\(api)/character?page=3").status == 200)
                #expect(try await fetch("\(api)/character?page=2").status == 200)
                let journal = fake.store.requests(path: "/api/character", query: ["page": "3"])
                #expect(journal.map(\.status) == [503, 503, 200])
            }
        }

        @Test("every n-th matching request, and time windows")
        func everyAndWindow() async throws {
            try await Harness.withFakeUpstream { api, fake in
                try self.add(fake, #"{"match":{"path":"/api"},"action":{"status":500},"every":3}"#)
                var statuses: [Int] = []
                for _ in 0..<6 { statuses.append(try await fetch(api).status) }
                #expect(statuses == [200, 200, 500, 200, 200, 500])
                try self.add(fake, #"{"match":{"path":"/api/character/1"},"action":{"status":502},"after_ms":60000}"#)
                #expect(try await fetch("\(api)/character/1").status == 200, "not active yet")
            }
        }

        @Test("fixed latency delays the first byte; dribble spreads the body but delivers it whole")
        func latencyAndDribble() async throws {
            try await Harness.withFakeUpstream { api, fake in
                let plain = try await fetch("\(api)/character?page=1")
                try self.add(fake, #"{"match":{"path":"/api/character"},"action":{"delay_ms":300},"times":1}"#)
                var started = ContinuousClock.now
                _ = try await fetch("\(api)/character?page=1")
                #expect(ContinuousClock.now - started >= .milliseconds(300))
                try self.add(
                    fake,
                    #"{"match":{"path":"/api/character"},"action":{"dribble":{"chunks":4,"over_ms":400}},"times":1}"#
                )
                started = ContinuousClock.now
                let dribbled = try await fetch("\(api)/character?page=1")
                #expect(ContinuousClock.now - started >= .milliseconds(300))
                #expect(dribbled.body == plain.body)
            }
        }

        @Test("reset, close, hang and truncate reach the client as transport errors, never as a response")
        func transport() async throws {
            try await Harness.withFakeUpstream { api, fake in
                try self.add(fake, #"{"match":{"path":"/api"},"action":{"transport":"reset"},"times":1}"#)
                let reset = await self.failure(api)
                #expect(
                    (reset as? IOError)?.errnoCode == ECONNRESET,
                    "expected a TCP reset, got \(String(describing: reset))"
                )
                try self.add(fake, #"{"match":{"path":"/api"},"action":{"transport":"close"},"times":1}"#)
                let closed = await self.failure(api)
                #expect(
                    closed as? HTTPClientError == .remoteConnectionClosed,
                    "expected a clean close, got \(String(describing: closed))"
                )
                try self.add(
                    fake,
                    #"{"match":{"path":"/api"},"action":{"transport":"hang","hang_ms":30000},"times":1}"#
                )
                let started = ContinuousClock.now
                #expect(await self.failure(api, timeout: .milliseconds(300)) != nil)
                #expect(ContinuousClock.now - started < .seconds(5))
                try self.add(fake, #"{"match":{"path":"/api/character"},"action":{"corrupt":"truncate"},"times":1}"#)
                #expect(await self.failure("\(api)/character?page=1") != nil)
                #expect(try await fetch(api).status == 200, "the server still serves afterwards")
                let statuses = fake.store.requests(path: "/api").map(\.status)
                #expect(statuses.prefix(3) == [0, 0, 0], "transport faults are journaled with status 0")
            }
        }

        @Test("malformed JSON and wrong Content-Type")
        func corruption() async throws {
            try await Harness.withFakeUpstream { api, fake in
                try self.add(fake, #"{"action":{"corrupt":"malformed_json"},"times":1}"#)
                let broken = try await fetch("\(api)/character?page=1")
                #expect(broken.status == 200)
                #expect((try? JSONSerialization.jsonObject(with: Data(broken.body.utf8))) == nil)
                try self.add(fake, #"{"action":{"corrupt":"wrong_content_type"},"times":1}"#)
                #expect(try await fetch(api).headers.first(name: "Content-Type") == "text/html")
            }
        }

        @Test("pagination lies: count, next to another host, an empty page, duplicated ids")
        func pagination() async throws {
            try await Harness.withFakeUpstream { api, fake in
                let page1 = try await fetch("\(api)/character?page=1").json
                let ids1 = (page1["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
                try self.add(
                    fake,
                    #"{"match":{"query":{"page":"2"}},"action":{"pagination":{"count":5,"next":"http://elsewhere.invalid/api/character?page=1"}},"times":1}"#
                )
                let lied = try await fetch("\(api)/character?page=2").json
                let info = lied["info"] as? [String: Any]
                #expect(info?["count"] as? Int == 5)
                #expect(info?["next"] as? String == "http://elsewhere.invalid/api/character?page=1")
                try self.add(
                    fake,
                    #"{"match":{"query":{"page":"2"}},"action":{"pagination":{"results":"empty"}},"times":1}"#
                )
                #expect((try await fetch("\(api)/character?page=2").json["results"] as? [Any])?.isEmpty == true)
                try self.add(
                    fake,
                    #"{"match":{"query":{"page":"2"}},"action":{"pagination":{"results":"duplicate_previous"}},"times":1}"#
                )
                let duplicated = try await fetch("\(api)/character?page=2").json
                #expect((duplicated["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int } == ids1)
            }
        }

        @Test("the admin API refuses bad input with a 400 problem and knows nothing of unknown ids")
        func adminErrors() async throws {
            try await Harness.withFakeUpstream { api, _ in
                let admin = api.replacingOccurrences(of: "/api", with: "/__admin")
                for body in [
                    "nope", #"{"action":{"status":99}}"#, #"{"action":{}}"#, #"{"action":{"transport":"explode"}}"#,
                ] {
                    var request = HTTPClientRequest(url: "\(admin)/behaviors")
                    request.method = .POST
                    request.body = .bytes(ByteBuffer(string: body))
                    let response = try await Harness.http.execute(request, timeout: .seconds(5))
                    #expect(response.status == .badRequest, "\(body)")
                    #expect(response.headers.first(name: "Content-Type") == "application/problem+json")
                }
                #expect(try await fetch("\(admin)/behaviors/b999", method: .DELETE).status == 404)
                #expect(try await fetch("\(admin)/known-answer").json["count"] as? Int ?? 0 > 0)
            }
        }

        @Test("a misspelt key anywhere in a behaviour is a 400 naming it; nothing is stored")
        func adminUnknownKeys() async throws {
            try await Harness.withFakeUpstream { api, fake in
                let admin = api.replacingOccurrences(of: "/api", with: "/__admin")
                let cases = [
                    (#"{"match":{"path_prefx":"/x"},"action":{"status":500}}"#, "unknown key match.path_prefx"),
                    (#"{"action":{"status":500},"tmes":1}"#, "unknown key tmes"),
                    (#"{"action":{"latency":{"distribution":"fixed","ms":5,"mx_ms":9}}}"#, "action.latency.mx_ms"),
                    (#"{"action":{"status":"500"}}"#, "wrong type at action.status"),
                ]
                for (body, expected) in cases {
                    let response = try await fetch("\(admin)/behaviors", method: .POST, body: body)
                    #expect(response.status == 400, "\(body)")
                    let detail = response.json["detail"] as? String ?? ""
                    #expect(detail.contains(expected), "\(detail)")
                }
                #expect(fake.store.behaviors.isEmpty)
                #expect(try await fetch("\(api)/character/1").status == 200, "nothing turned into a 500")
            }
        }

        @Test("behaviour ids start again at b1 after POST /__admin/reset")
        func idsRestartAfterReset() async throws {
            try await Harness.withFakeUpstream { api, _ in
                let admin = api.replacingOccurrences(of: "/api", with: "/__admin")
                let body = #"{"action":{"status":503}}"#
                var ids: [String?] = []
                for _ in 0..<2 {
                    ids.append(try await fetch("\(admin)/behaviors", method: .POST, body: body).json["id"] as? String)
                }
                let reset = try await fetch("\(admin)/reset", method: .POST)
                ids.append(try await fetch("\(admin)/behaviors", method: .POST, body: body).json["id"] as? String)
                let removed = try await fetch("\(admin)/behaviors/b1", method: .DELETE)
                let after = try await fetch("\(api)/character/1")
                #expect(ids == ["b1", "b2", "b1"])
                #expect(reset.status == 204)
                #expect(removed.status == 204)
                #expect(after.status == 200)
            }
        }

        @Test("/metrics counts requests by route template, status and fault")
        func metrics() async throws {
            try await Harness.withFakeUpstream { api, fake in
                try self.add(fake, #"{"match":{"path":"/api/character/7"},"action":{"status":503},"times":1}"#)
                _ = try await fetch("\(api)/character/7")
                _ = try await fetch("\(api)/character/8")
                let text = try await fetch(api.replacingOccurrences(of: "/api", with: "/metrics")).body
                #expect(
                    text.contains(
                        #"fake_upstream_requests_total{route="/api/character/{id}",status="503",fault="status_503"} 1"#
                    )
                )
                #expect(
                    text.contains(
                        #"fake_upstream_requests_total{route="/api/character/{id}",status="200",fault="none"} 1"#
                    )
                )
                let (status, output) = try promtoolCheckMetrics(text)
                #expect(status == 0, "promtool: \(output)")
            }
        }

        @Test("App's ingest waits out a 429's Retry-After before retrying, as the journal shows")
        func appHonoursRetryAfter() async throws {
            try await Backend.sqlite.withDatabase { database, _ in
                try await Harness.withFakeUpstream(characters: 100) { api, fake in
                    try self.add(
                        fake,
                        #"{"match":{"path":"/api/character","query":{"page":"2"}},"action":{"status":429,"headers":{"Retry-After":"1"}},"times":1}"#
                    )
                    try await Harness.withApp(try Harness.appConfig(database: database, upstream: api)) { app in
                        #expect(await eventually { app.metric(#"ingest_runs_total{result="success"}"#) >= 1 })
                        let tries = fake.store.requests(path: "/api/character", query: ["page": "2"])
                        #expect(tries.map(\.status) == [429, 200])
                        if tries.count == 2 { #expect(tries[1].time - tries[0].time >= 1.0) }
                        #expect(app.metric(#"upstream_retries_total{reason="429"}"#) == 1)
                    }
                }
            }
        }
    }
}

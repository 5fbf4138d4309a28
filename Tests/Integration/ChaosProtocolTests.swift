import AsyncHTTPClient
import ChaosKit
import FakeUpstreamKit
import Foundation
import NIOCore
import NIOHTTP1
import Native
import TestSupport
import Testing

extension Integration {
    /// HTTP- and PostgreSQL-aware toxics against a real FakeUpstream and a real PostgreSQL server.
    @Suite("Chaos: HTTP and PostgreSQL toxics as real clients see them")
    struct ChaosProtocolTests {
        // MARK: - HTTP

        private func withHTTPProxy(
            seed: UInt64 = 0,
            _ body: (_ chaos: String, _ proxied: String, _ upstream: FakeUpstreamServer) async throws -> Void
        ) async throws {
            try await Harness.withFakeUpstream(characters: 50) { api, fake in
                let upstreamPort = try #require(URL(string: api)?.port)
                try await Harness.withChaos(seed: seed) { chaos in
                    let port = try await Harness.createProxy(chaos, name: "upstream", upstreamPort: upstreamPort)
                    try await body(chaos, "http://127.0.0.1:\(port)/api", fake)
                }
            }
        }

        @Test("http_status answers matching requests itself (503 + Retry-After) and lets the others through")
        func httpStatus() async throws {
            try await self.withHTTPProxy { chaos, proxied, upstream in
                try await Harness.addToxic(
                    chaos,
                    proxy: "upstream",
                    #"{"type":"http_status","attributes":{"status":503,"retry_after":7,"path_prefix":"/api/character","query":"page=2","body":"{\"error\":\"down\"}"}}"#
                )
                let hit = try await fetch("\(proxied)/character?page=2")
                #expect(hit.status == 503)
                #expect(hit.headers["Retry-After"].first == "7")
                #expect(hit.headers["Content-Type"].first == "application/json")
                #expect(hit.body == #"{"error":"down"}"#)
                #expect(try await fetch("\(proxied)/character?page=1").status == 200)
                #expect(
                    try await fetch("\(proxied)/character?page=2&name=x").status == 503,
                    "query pairs match in any order"
                )
                let paths = upstream.store.requests(path: "/api/character").map { $0.query["page"] ?? "" }
                #expect(paths == ["1"], "the matched requests never reached the upstream")
            }
        }

        @Test("http_status with a probability picks the same requests for the same seed")
        func httpProbabilitySeeded() async throws {
            try await self.withHTTPProxy(seed: 99) { chaos, proxied, _ in
                try await Harness.addToxic(
                    chaos,
                    proxy: "upstream",
                    #"{"type":"http_status","attributes":{"status":429,"retry_after":"1","probability":0.5}}"#
                )
                func run() async throws -> [Int] {
                    var statuses: [Int] = []
                    // One request per connection: decisions are keyed by (connection, request).
                    for _ in 0..<16 {
                        statuses.append(
                            try await fetch("\(proxied)/character", headers: [("Connection", "close")]).status
                        )
                    }
                    return statuses
                }
                let first = try await run()
                #expect(first.contains(429) && first.contains(200))
                let injected = try await Harness.chaosEvents(chaos).filter { $0["outcome"] as? String == "status 429" }
                #expect(injected.count == first.filter { $0 == 429 }.count)
                #expect(try await Harness.noOpenConnections(chaos, proxy: "upstream"))
                _ = try await Harness.send(.PUT, "\(chaos)/seed", #"{"seed":99}"#)
                #expect(try await run() == first)
            }
        }

        @Test("http_delay holds the response headers, or the body after the headers")
        func httpDelay() async throws {
            try await self.withHTTPProxy { chaos, proxied, _ in
                try await Harness.addToxic(
                    chaos,
                    proxy: "upstream",
                    #"{"type":"http_delay","attributes":{"delay":300,"method":"GET"}}"#
                )
                var started = ContinuousClock.now
                #expect(try await fetch("\(proxied)/character?page=1").status == 200)
                #expect(ContinuousClock.now - started >= .milliseconds(300))
                _ = try await Harness.send(
                    .POST,
                    "\(chaos)/proxies/upstream/toxics/http_delay_downstream",
                    #"{"attributes":{"target":"body"}}"#
                )
                started = ContinuousClock.now
                let response = try await Harness.http.execute(
                    HTTPClientRequest(url: "\(proxied)/character?page=1"),
                    timeout: .seconds(10)
                )
                let headersAfter = ContinuousClock.now - started
                _ = try await response.body.collect(upTo: 1 << 22)
                #expect(headersAfter < .milliseconds(300), "headers came at once")
                #expect(ContinuousClock.now - started >= .milliseconds(300), "the body waited")
            }
        }

        @Test("http_reset sends the response head (and after_bytes of body), then a TCP RST")
        func httpReset() async throws {
            try await self.withHTTPProxy { chaos, proxied, _ in
                try await Harness.addToxic(
                    chaos,
                    proxy: "upstream",
                    #"{"type":"http_reset","attributes":{"after_bytes":10,"path_prefix":"/api/character"}}"#
                )
                let port = try #require(URL(string: proxied)?.port)
                let probe = try TCPProbe(port: port)
                try probe.send("GET /api/character?page=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                let result = probe.receive()
                let text = String(decoding: result.bytes, as: UTF8.self)
                #expect(result.end == .reset)
                #expect(text.hasPrefix("HTTP/1.1 200"))
                let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
                #expect(body.utf8.count == 10, "exactly after_bytes of the body: \(body)")
                #expect(try await fetch("\(proxied)").status == 200, "other paths are not matched")
            }
        }

        // MARK: - PostgreSQL

        private func withPostgresProxy(
            _ body: (_ chaos: String, _ url: String, _ server: PostgresServer) async throws -> Void
        ) async throws {
            try await withPostgres { server in
                try await Harness.withChaos { chaos in
                    let port = try await Harness.createProxy(chaos, name: "postgres", upstreamPort: server.port)
                    try await body(chaos, "postgres://rm@127.0.0.1:\(port)/postgres", server)
                }
            }
        }

        private func connect(_ url: String) throws -> PostgresConnection {
            try PostgresConnection(conninfo: url, connectTimeout: 5, queryTimeout: 5)
        }

        /// From now on the proxy answers queries containing `select 7` with a serialization failure.
        private func failSelect7(_ chaos: String) async throws {
            try await Harness.addToxic(
                chaos,
                proxy: "postgres",
                #"{"name":"serialization","type":"pg_error","attributes":{"sqlstate":"40001","match":"select 7"}}"#
            )
        }

        @Test("pg_error answers a matching query with the SQLSTATE asked for; ERROR keeps the session, FATAL ends it")
        func postgresError() async throws {
            try await self.withPostgresProxy { chaos, url, _ in
                let connection = try self.connect(url)
                try await self.failSelect7(chaos)
                // Extended protocol (prepared statement) and simple protocol.
                let prepared = #expect(throws: DatabaseError.self) { _ = try connection.query("SELECT 7", []) }
                #expect(prepared?.sqlState == "40001")
                #expect(prepared?.kind == .serialization)
                let simple = #expect(throws: DatabaseError.self) { try connection.execute("select 7") }
                #expect(simple?.sqlState == "40001")
                #expect(try connection.query("SELECT 8", []).first?.first?.int == 8, "the session goes on")

                try await Harness.addToxic(
                    chaos,
                    proxy: "postgres",
                    #"{"name":"shutdown","type":"pg_error","attributes":{"sqlstate":"57P01","match":"select 9"}}"#
                )
                let fatal = #expect(throws: DatabaseError.self) { _ = try connection.query("SELECT 9", []) }
                #expect(fatal?.sqlState == "57P01")
                #expect(connection.isBroken || (try? connection.query("SELECT 1", [])) == nil)
            }
        }

        @Test(
            "a pipelined batch: each query its own rows; one failing (pg_error, or the server's own error) leaves the rest"
        )
        func pipelinedBatch() async throws {
            try await self.withPostgresProxy { chaos, url, _ in
                let connection = try self.connect(url)
                try await self.failSelect7(chaos)
                var seen: [Int: [Int64]] = [:]
                var results: [Int: Result<Void, any Error>] = [:]
                let queries = [(5, 1), (7, 1), (6, 0), (4, 1)].map { value, divisor in
                    DatabaseQuery(
                        "SELECT \(value) / $1::int",
                        [.int(Int64(divisor))],
                        eachRow: { row in seen[value, default: []].append(row.int(0) ?? -1) },
                        done: { results[value] = $0 }
                    )
                }
                connection.run(queries)
                #expect(results.count == 4)
                #expect((try? results[5]?.get()) != nil && (try? results[4]?.get()) != nil)
                func sqlState(_ result: Result<Void, any Error>?) -> String? {
                    guard case .failure(let error as DatabaseError) = result else { return nil }
                    return error.sqlState
                }
                #expect(sqlState(results[7]) == "40001", "the proxy's error, for that query alone")
                #expect(sqlState(results[6]) == "22012", "division by zero, raised by the server")
                #expect(seen == [5: [5], 4: [4]])
                #expect(!connection.isBroken)
                #expect(try connection.query("SELECT 8", []).first?.first?.int == 8, "the session goes on")
            }
        }

        @Test("pg_error at startup refuses the connection like a full server (53300)")
        func postgresStartupError() async throws {
            try await self.withPostgresProxy { chaos, url, _ in
                try await Harness.addToxic(
                    chaos,
                    proxy: "postgres",
                    #"{"type":"pg_error","attributes":{"sqlstate":"53300","phase":"startup","message":"sorry, too many clients already"}}"#
                )
                let refused = #expect(throws: DatabaseError.self) { _ = try self.connect(url) }
                #expect(refused?.kind == .tooManyConnections)
                #expect(refused?.message.contains("too many clients") == true)
            }
        }

        @Test("pg_drop_startup and drop-all: new connections fail while it is on; open ones are cut at once")
        func postgresDrops() async throws {
            try await self.withPostgresProxy { chaos, url, _ in
                let open = try self.connect(url)
                try await Harness.addToxic(chaos, proxy: "postgres", #"{"type":"pg_drop_startup"}"#)
                #expect(throws: DatabaseError.self) { _ = try self.connect(url) }
                #expect(try open.query("SELECT 1", []).count == 1, "connections past startup are not affected")
                _ = try await fetch("\(chaos)/proxies/postgres/toxics/pg_drop_startup_downstream", method: .DELETE)

                let dropped = try await fetch("\(chaos)/proxies/postgres/connections", method: .DELETE)
                #expect(dropped.json["dropped"] as? Int == 1)
                let lost = #expect(throws: DatabaseError.self) { _ = try open.query("SELECT 1", []) }
                #expect(lost?.kind == .connectionLost)
                #expect(try self.connect(url).query("SELECT 2", []).first?.first?.int == 2)
            }
        }

        @Test("pg_drop_after_rows cuts a result after N rows; pg_drop_in_transaction cuts an open transaction")
        func postgresRowsAndTransaction() async throws {
            try await self.withPostgresProxy { chaos, url, _ in
                let connection = try self.connect(url)
                #expect(try connection.query("SELECT generate_series(1, 100)", []).count == 100)
                try await Harness.addToxic(
                    chaos,
                    proxy: "postgres",
                    #"{"type":"pg_drop_after_rows","attributes":{"rows":50}}"#
                )
                let cut = #expect(throws: DatabaseError.self) {
                    _ = try connection.query("SELECT generate_series(1, 100)", [])
                }
                #expect(cut?.kind == .connectionLost, "rows count from when the toxic arrived: cut at row 50 of 100")
                let events = try await Harness.chaosEvents(chaos)
                let drop = events.first { $0["outcome"] as? String == "dropped after 50 rows" }
                #expect(connection.localAddress?.hasPrefix("127.0.0.1:") == true)
                #expect(
                    drop?["client"] as? String == connection.localAddress,
                    "the journal names the connection by its client end, as the client sees it"
                )
                _ = try await Harness.send(.POST, "\(chaos)/reset", "")

                try await Harness.addToxic(chaos, proxy: "postgres", #"{"type":"pg_drop_in_transaction"}"#)
                let fresh = try self.connect(url)
                #expect(try fresh.query("SELECT 1", []).count == 1, "outside a transaction nothing happens")
                try? fresh.execute("BEGIN")
                #expect(throws: DatabaseError.self) { _ = try fresh.query("SELECT 1", []) }
            }
        }

        @Test("pg_drop_after_commit: the COMMIT happens on the server, the client only sees a lost connection")
        func ambiguousCommit() async throws {
            try await self.withPostgresProxy { chaos, url, server in
                let connection = try self.connect(url)
                try connection.execute("CREATE TABLE ledger (id int)")
                try await Harness.addToxic(chaos, proxy: "postgres", #"{"type":"pg_drop_after_commit"}"#)
                try connection.execute("BEGIN")
                try connection.execute("INSERT INTO ledger VALUES (1)")
                let commit = #expect(throws: DatabaseError.self) { try connection.execute("COMMIT") }
                #expect(commit?.kind == .connectionLost)
                let rows = try server.query(
                    "SELECT count(*) FROM ledger",
                    url: "postgres://rm@127.0.0.1:\(server.port)/postgres"
                )
                #expect(rows.first?.first?.int == 1, "committed, although the client was never told")
            }
        }
    }
}

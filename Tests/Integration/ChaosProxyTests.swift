import AsyncHTTPClient
import ChaosKit
import Foundation
import NIOCore
import NIOHTTP1
import Native
import TestSupport
import Testing

extension Integration {
    @Suite("Chaos: Toxiproxy-compatible proxies over real sockets")
    struct ChaosProxyTests {
        @Test("create, relay, conflict, disable (refuses and drops), reset, delete — with Toxiproxy's codes and bodies")
        func lifecycle() async throws {
            try await Harness.withFakeUpstream(characters: 100) { api, _ in
                let upstreamPort = try #require(URL(string: api)?.port)
                try await Harness.withChaos { chaos in
                    #expect(try await fetch("\(chaos)/version").json["version"] as? String != nil)
                    let created = try await Harness.send(
                        .POST,
                        "\(chaos)/proxies",
                        #"{"name":"upstream","listen":"127.0.0.1:0","upstream":"127.0.0.1:\#(upstreamPort)"}"#
                    )
                    #expect(created.status == 201)
                    #expect(created.json["enabled"] as? Bool == true)
                    #expect((created.json["toxics"] as? [Any])?.isEmpty == true)
                    let listen = try #require(created.json["listen"] as? String)
                    #expect(!listen.hasSuffix(":0"), "port 0 is reported as the bound port")
                    let proxied = "http://\(listen)/api/character?page=2"

                    let direct = try await fetch("\(api)/character?page=2")
                    let through = try await fetch(proxied)
                    #expect(through.status == 200)
                    // Identical bytes, but for the links FakeUpstream builds from the Host it was asked on.
                    let directAuthority = try #require(URL(string: api).map { "\($0.host ?? ""):\($0.port ?? 0)" })
                    #expect(through.body.replacingOccurrences(of: listen, with: directAuthority) == direct.body)

                    let conflict = try await Harness.send(
                        .POST,
                        "\(chaos)/proxies",
                        #"{"name":"upstream","upstream":"127.0.0.1:1"}"#
                    )
                    #expect(conflict.status == 409)
                    #expect(conflict.json["error"] as? String == "proxy already exists")
                    #expect(conflict.json["status"] as? Int == 409)
                    #expect(try await Harness.send(.POST, "\(chaos)/proxies", "{nope").status == 400)
                    let unknown = try await fetch("\(chaos)/no/such/route")
                    #expect(unknown.status == 404 && unknown.json["error"] as? String == "route not found")
                    #expect(try await Harness.send(.POST, "\(chaos)/proxies", #"{"name":"x"}"#).status == 400)

                    let all = try await fetch("\(chaos)/proxies").json
                    #expect((all["upstream"] as? [String: Any])?["upstream"] as? String == "127.0.0.1:\(upstreamPort)")

                    let disabled = try await Harness.send(.POST, "\(chaos)/proxies/upstream", #"{"enabled":false}"#)
                    #expect(disabled.status == 200 && disabled.json["enabled"] as? Bool == false)
                    await #expect(throws: (any Error).self) { _ = try await fetch(proxied) }

                    #expect(try await Harness.send(.POST, "\(chaos)/reset", "").status == 204)
                    #expect(await eventually { (try? await fetch(proxied).status) == 200 })

                    #expect(try await fetch("\(chaos)/proxies/upstream", method: .DELETE).status == 204)
                    let gone = try await fetch("\(chaos)/proxies/upstream")
                    #expect(gone.status == 404)
                    #expect(gone.json["error"] as? String == "proxy not found")
                }
            }
        }

        @Test("disabling a proxy while clients keep connecting leaves no connection relaying", .timeLimit(.minutes(1)))
        func disableUnderConnects() async throws {
            let echo = try await EchoServer()
            try await Harness.withChaos { chaos in
                let port = try await Harness.createProxy(chaos, name: "echo", upstreamPort: echo.port)
                // Four threads connect as fast as they can, each keeping its last 16 connections,
                // so the disable below lands among connections being accepted and relayed.
                let clients = Connectors(threads: 4, keep: 16, port: port)
                #expect(await eventually { clients.opened >= 400 })
                let disabled = try await Harness.send(.POST, "\(chaos)/proxies/echo", #"{"enabled":false}"#)
                #expect(disabled.status == 200)
                let held = await clients.stop()
                #expect(clients.opened >= 400 && !held.isEmpty)
                // Every connection left is dead: none echoes a byte any more.
                var relaying = 0
                for probe in held {
                    guard (try? probe.send("ping")) != nil else { continue }
                    if probe.receive(upTo: 4, wait: .seconds(1)).bytes == Array("ping".utf8) { relaying += 1 }
                }
                #expect(relaying == 0, "\(relaying) of \(held.count) connections still relay after the disable")
            }
            await echo.stop()
        }

        @Test("after PUT /seed, open connections are renumbered and still reached by toxics and by a disable")
        func reseedKeepsOpenConnections() async throws {
            let echo = try await EchoServer()
            try await Harness.withChaos { chaos in
                let port = try await Harness.createProxy(chaos, name: "echo", upstreamPort: echo.port)
                func open() throws -> TCPProbe {
                    let probe = try TCPProbe(port: port)
                    try probe.send("ping")
                    #expect(probe.receive(upTo: 4, wait: .seconds(5)).bytes == Array("ping".utf8))
                    return probe
                }
                // Two connections, a reseed, and one more: numbering starts again at 1, which
                // used to be the first connection's key too, so the new one pushed it off the
                // proxy's list and it went on relaying past every later change.
                let old = [try open(), try open()]
                _ = try await Harness.send(.PUT, "\(chaos)/seed", #"{"seed":7}"#)
                let new = try open()
                _ = try await Harness.addToxic(chaos, proxy: "echo", #"{"type":"latency","attributes":{"latency":1}}"#)
                let numbers = try await Harness.chaosEvents(chaos).compactMap { $0["connection"] as? Int }
                #expect(numbers.sorted() == [1, 2, 3], "open connections 1 and 2 (oldest first), the new one 3")
                let disabled = try await Harness.send(.POST, "\(chaos)/proxies/echo", #"{"enabled":false}"#)
                #expect(disabled.status == 200)
                for (index, probe) in (old + [new]).enumerated() {
                    try? probe.send("ping")
                    let echoed = probe.receive(upTo: 4, wait: .seconds(1)).bytes == Array("ping".utf8)
                    #expect(!echoed, "connection \(index + 1) still relays after the disable")
                }
            }
            await echo.stop()
        }

        @Test("POST /reset says so when a proxy cannot listen again, and still resets the others")
        func resetWhenAddressTaken() async throws {
            let echo = try await EchoServer()
            try await Harness.withChaos { chaos in
                let port = try await Harness.createProxy(chaos, name: "echo", upstreamPort: echo.port)
                _ = try await Harness.createProxy(chaos, name: "other", upstreamPort: echo.port)
                _ = try await Harness.addToxic(chaos, proxy: "other", #"{"type":"latency","attributes":{"latency":1}}"#)
                _ = try await Harness.send(.POST, "\(chaos)/proxies/echo", #"{"enabled":false}"#)
                // Something else takes the disabled proxy's port meanwhile.
                let thief = try await Harness.send(
                    .POST,
                    "\(chaos)/proxies",
                    #"{"name":"thief","listen":"127.0.0.1:\#(port)","upstream":"127.0.0.1:\#(echo.port)"}"#
                )
                #expect(thief.status == 201)
                let reset = try await Harness.send(.POST, "\(chaos)/reset", "")
                #expect(reset.status == 409 && reset.body.contains("proxy echo"), "\(reset.status) \(reset.body)")
                let proxies = try await fetch("\(chaos)/proxies").json
                #expect((proxies["echo"] as? [String: Any])?["enabled"] as? Bool == false)
                #expect(((proxies["other"] as? [String: Any])?["toxics"] as? [Any])?.isEmpty == true)
            }
            await echo.stop()
        }

        @Test("a PostgreSQL connection through the proxy works, and disabling the proxy drops it")
        func postgresThroughProxy() async throws {
            try await withPostgres { server in
                try await Harness.withChaos { chaos in
                    let created = try await Harness.send(
                        .POST,
                        "\(chaos)/proxies",
                        #"{"name":"postgres","listen":"127.0.0.1:0","upstream":"127.0.0.1:\#(server.port)"}"#
                    )
                    let listen = try #require(created.json["listen"] as? String)
                    let port = try #require(Int(listen.split(separator: ":").last ?? ""))
                    let connection = try PostgresConnection(
                        conninfo: "postgres://rm@127.0.0.1:\(port)/postgres",
                        connectTimeout: 5,
                        queryTimeout: 5
                    )
                    #expect(try connection.query("SELECT 40 + 2", []).first?.first?.int == 42)
                    _ = try await Harness.send(.POST, "\(chaos)/proxies/postgres", #"{"enabled":false}"#)
                    #expect(throws: DatabaseError.self) { _ = try connection.query("SELECT 1", []) }
                    #expect(connection.isBroken)
                }
            }
        }
    }
}

extension Integration.ChaosProxyTests {
    @Test("a latency toxic delays responses on a live proxy, in Toxiproxy's JSON, and removing it or reset ends it")
    func latencyToxic() async throws {
        try await Harness.withFakeUpstream(characters: 50) { api, _ in
            let upstreamPort = try #require(URL(string: api)?.port)
            try await Harness.withChaos { chaos in
                let created = try await Harness.send(
                    .POST,
                    "\(chaos)/proxies",
                    #"{"name":"up","listen":"127.0.0.1:0","upstream":"127.0.0.1:\#(upstreamPort)"}"#
                )
                let listen = try #require(created.json["listen"] as? String)
                let url = "http://\(listen)/api/character?page=1"
                #expect(try await fetch(url).status == 200)

                let toxic = try await Harness.send(
                    .POST,
                    "\(chaos)/proxies/up/toxics",
                    #"{"type":"latency","stream":"downstream","attributes":{"latency":250,"jitter":0}}"#
                )
                #expect(toxic.status == 200)
                #expect(
                    toxic.body
                        == #"{"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1,"attributes":{"jitter":0,"latency":250}}"#
                )
                let duplicate = try await Harness.send(.POST, "\(chaos)/proxies/up/toxics", #"{"type":"latency"}"#)
                #expect(duplicate.status == 409)
                #expect(
                    try await Harness.send(.POST, "\(chaos)/proxies/up/toxics", #"{"type":"teleport"}"#).status == 400
                )
                #expect(
                    try await Harness.send(
                        .POST,
                        "\(chaos)/proxies/up/toxics",
                        #"{"type":"latency","name":"x","attributes":{"latency":-1}}"#
                    ).status == 400
                )

                var started = ContinuousClock.now
                #expect(try await fetch(url).status == 200)
                #expect(ContinuousClock.now - started >= .milliseconds(250))
                let listed = try await fetch("\(chaos)/proxies/up").json["toxics"] as? [[String: Any]]
                #expect(listed?.first?["name"] as? String == "latency_downstream")

                let updated = try await Harness.send(
                    .POST,
                    "\(chaos)/proxies/up/toxics/latency_downstream",
                    #"{"attributes":{"latency":400}}"#
                )
                #expect((updated.json["attributes"] as? [String: Any])?["latency"] as? Int == 400)
                started = ContinuousClock.now
                _ = try await fetch(url)
                #expect(ContinuousClock.now - started >= .milliseconds(400))

                #expect(try await fetch("\(chaos)/proxies/up/toxics/latency_downstream", method: .DELETE).status == 204)
                #expect(try await fetch("\(chaos)/proxies/up/toxics/latency_downstream").status == 404)
                #expect(try await fetch("\(chaos)/proxies/up/toxics").body == "[]")
                _ = try await Harness.send(
                    .POST,
                    "\(chaos)/proxies/up/toxics",
                    #"{"type":"latency","attributes":{"latency":100}}"#
                )
                #expect(try await Harness.send(.POST, "\(chaos)/reset", "").status == 204)
                #expect(try await fetch("\(chaos)/proxies/up/toxics").body == "[]")
            }
        }
    }
}

import ChaosKit
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

extension Integration {
    /// Toxiproxy's toxics, measured from a client's socket through a real proxy to a real echo server.
    @Suite("Chaos: byte toxics as a client sees them")
    struct ChaosToxicTests {
        /// An echo server, a chaos server and a proxy `echo` in front of the echo server.
        private func withEchoProxy(
            seed: UInt64 = 0,
            _ body: (_ chaos: String, _ port: Int) async throws -> Void
        ) async throws {
            let echo = try await EchoServer()
            do {
                try await Harness.withChaos(seed: seed) { chaos in
                    try await body(chaos, try await Harness.createProxy(chaos, name: "echo", upstreamPort: echo.port))
                }
            } catch {
                await echo.stop()
                throw error
            }
            await echo.stop()
        }

        private func roundTrip(_ port: Int, _ text: String = "ping") throws -> (Duration, TCPProbe.End, String) {
            let probe = try TCPProbe(port: port)
            let started = ContinuousClock.now
            try probe.send(text)
            let answer = probe.receive(upTo: text.utf8.count)
            return (ContinuousClock.now - started, answer.end, String(decoding: answer.bytes, as: UTF8.self))
        }

        @Test("latency adds its delay per direction; upstream and downstream add up")
        func latency() async throws {
            try await self.withEchoProxy { chaos, port in
                let (baseline, _, _) = try self.roundTrip(port)
                try await Harness.addToxic(chaos, proxy: "echo", #"{"type":"latency","attributes":{"latency":150}}"#)
                let (down, _, echoed) = try self.roundTrip(port)
                #expect(echoed == "ping")
                #expect(down >= .milliseconds(150) && down < .milliseconds(150) + baseline + .milliseconds(200))
                try await Harness.addToxic(
                    chaos,
                    proxy: "echo",
                    #"{"type":"latency","stream":"upstream","attributes":{"latency":100}}"#
                )
                let (both, _, _) = try self.roundTrip(port)
                #expect(both >= .milliseconds(250) && both < .milliseconds(250) + baseline + .milliseconds(200))
            }
        }

        @Test("bandwidth paces the bytes at the rate (KB/s)")
        func bandwidth() async throws {
            try await self.withEchoProxy { chaos, port in
                try await Harness.addToxic(chaos, proxy: "echo", #"{"type":"bandwidth","attributes":{"rate":100}}"#)
                let probe = try TCPProbe(port: port)
                let payload = [UInt8](repeating: 7, count: 50_000)
                let started = ContinuousClock.now
                try probe.send(payload)
                let received = probe.receive(upTo: payload.count)
                let elapsed = ContinuousClock.now - started
                #expect(received.bytes == payload)
                // 50 000 bytes at 100 000 bytes/s: 500 ms.
                #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(2), "took \(elapsed)")
            }
        }

        @Test("slicer cuts the stream into small pieces with a delay between them")
        func slicer() async throws {
            try await self.withEchoProxy { chaos, port in
                try await Harness.addToxic(
                    chaos,
                    proxy: "echo",
                    #"{"type":"slicer","attributes":{"average_size":10,"size_variation":0,"delay":100000}}"#
                )
                let probe = try TCPProbe(port: port)
                let payload = Array("0123456789".utf8) + Array("abcdefghij".utf8) + Array("ABCDEFGHIJ".utf8)
                try probe.send(payload)
                let received = probe.receive(upTo: payload.count)
                #expect(received.bytes == payload)
                #expect(received.reads.count == 3, "three 10-byte slices arrive apart: \(received.reads)")
                #expect((received.reads.last ?? .zero) >= .milliseconds(200))
            }
        }

        @Test("limit_data lets exactly that many bytes through, then closes")
        func limitData() async throws {
            try await self.withEchoProxy { chaos, port in
                try await Harness.addToxic(chaos, proxy: "echo", #"{"type":"limit_data","attributes":{"bytes":300}}"#)
                let probe = try TCPProbe(port: port)
                try probe.send([UInt8](repeating: 1, count: 200))
                #expect(probe.receive(upTo: 200).bytes.count == 200)
                try probe.send([UInt8](repeating: 2, count: 800))
                let rest = probe.receive()
                #expect(rest.bytes == [UInt8](repeating: 2, count: 100))
                #expect(rest.end == .eof)
            }
        }

        @Test("timeout 0 holds data until removed; timeout N closes after N ms")
        func timeout() async throws {
            try await self.withEchoProxy { chaos, port in
                let probe = try TCPProbe(port: port)
                try await Harness.addToxic(chaos, proxy: "echo", #"{"type":"timeout","attributes":{"timeout":0}}"#)
                try probe.send("lost")
                let held = probe.receive(wait: .milliseconds(400))
                #expect(held.bytes.isEmpty && held.end == .open)
                #expect(
                    try await fetch("\(chaos)/proxies/echo/toxics/timeout_downstream", method: .DELETE).status == 204
                )
                try probe.send("flows")
                #expect(String(decoding: probe.receive(upTo: 5).bytes, as: UTF8.self) == "flows")

                try await Harness.addToxic(chaos, proxy: "echo", #"{"type":"timeout","attributes":{"timeout":300}}"#)
                let fresh = try TCPProbe(port: port)
                let started = ContinuousClock.now
                try fresh.send("x")
                let closed = fresh.receive()
                #expect(closed.bytes.isEmpty && closed.end == .eof)
                #expect(ContinuousClock.now - started >= .milliseconds(250))
            }
        }

        @Test("reset_peer resets connections that were already open, and new ones")
        func resetPeer() async throws {
            try await self.withEchoProxy { chaos, port in
                let open = try TCPProbe(port: port)
                try open.send("hi")
                #expect(open.receive(upTo: 2).bytes.count == 2)
                try await Harness.addToxic(chaos, proxy: "echo", #"{"type":"reset_peer","attributes":{"timeout":0}}"#)
                #expect(open.receive().end == .reset)
                #expect(try self.roundTrip(port).1 == .reset)
                let metrics = try await fetch("\(chaos)/metrics").body
                #expect(
                    metrics.contains(
                        #"chaos_faults_injected_total{proxy="echo",toxic="reset_peer_downstream",kind="reset_peer"}"#
                    )
                )
            }
        }

        @Test("slow_close delays the close by its delay; the bytes before it arrive first")
        func slowClose() async throws {
            try await self.withEchoProxy { chaos, port in
                try await Harness.addToxic(chaos, proxy: "echo", #"{"type":"slow_close","attributes":{"delay":400}}"#)
                let probe = try TCPProbe(port: port)
                try probe.send("bye")
                let started = ContinuousClock.now
                probe.shutdownWrite()
                let result = probe.receive()
                #expect(String(decoding: result.bytes, as: UTF8.self) == "bye")
                #expect(result.end == .eof)
                #expect(ContinuousClock.now - started >= .milliseconds(380))
            }
        }

        @Test("toxics added and removed on a live connection never drop or reorder bytes in flight")
        func liveChangesKeepOrder() async throws {
            try await self.withEchoProxy { chaos, port in
                let probe = try TCPProbe(port: port)
                var sent: [UInt8] = []
                for round in 0..<6 {
                    let chunk = Array("chunk-\(round);".utf8)
                    try probe.send(chunk)
                    sent += chunk
                    if round % 2 == 0 {
                        try await Harness.addToxic(
                            chaos,
                            proxy: "echo",
                            #"{"type":"latency","attributes":{"latency":\#(200 - round * 30),"jitter":20}}"#
                        )
                    } else {
                        _ = try await fetch("\(chaos)/proxies/echo/toxics/latency_downstream", method: .DELETE)
                    }
                }
                let received = probe.receive(upTo: sent.count)
                #expect(received.bytes == sent)
            }
        }

        @Test("toxicity is decided per connection from the seed: the same seed replays the same decisions")
        func seededToxicity() async throws {
            try await self.withEchoProxy(seed: 42) { chaos, port in
                try await Harness.addToxic(
                    chaos,
                    proxy: "echo",
                    #"{"type":"latency","toxicity":0.5,"attributes":{"latency":600}}"#
                )
                func run() async throws -> [Bool] {
                    var slow: [Bool] = []
                    for _ in 0..<12 { slow.append(try self.roundTrip(port).0 >= .milliseconds(450)) }
                    return slow
                }
                let first = try await run()
                let journal = try await Harness.chaosEvents(chaos).map { $0["outcome"] as? String == "applied" }
                #expect(journal == first, "the journal says which connections got the toxic")
                #expect(first.contains(true) && first.contains(false))

                #expect(try await Harness.noOpenConnections(chaos, proxy: "echo"))
                let reseeded = try await Harness.send(.PUT, "\(chaos)/seed", #"{"seed":42}"#)
                #expect(reseeded.json["seed"] as? Int == 42)
                #expect(try await run() == first)
                #expect(try await Harness.noOpenConnections(chaos, proxy: "echo"))
                _ = try await Harness.send(.PUT, "\(chaos)/seed", #"{"seed":7}"#)
                #expect(try await run() != first, "another seed, other decisions (fixed seeds, so this is stable)")
            }
        }

        @Test("a toxic with a ttl removes itself")
        func ttl() async throws {
            try await self.withEchoProxy { chaos, port in
                let addedAt = ContinuousClock.now
                let added = try await Harness.addToxic(
                    chaos,
                    proxy: "echo",
                    #"{"type":"latency","ttl":3000,"attributes":{"latency":200}}"#
                )
                #expect(added.json["ttl"] as? Int == 3000)
                // A round trip started well inside the ttl sees the toxic, however slow the machine.
                #expect(try self.roundTrip(port).0 >= .milliseconds(200))
                #expect(await eventually { (try? await fetch("\(chaos)/proxies/echo/toxics").body) == "[]" })
                #expect(ContinuousClock.now - addedAt >= .milliseconds(3000), "not removed before its ttl")
                #expect(try self.roundTrip(port).0 < .milliseconds(200))
            }
        }

        @Test("DELETE /proxies/{name}/connections drops every open connection; the proxy keeps accepting")
        func dropAll() async throws {
            try await self.withEchoProxy { chaos, port in
                let first = try TCPProbe(port: port)
                let second = try TCPProbe(port: port)
                try first.send("a")
                try second.send("b")
                _ = first.receive(upTo: 1)
                _ = second.receive(upTo: 1)
                let dropped = try await fetch("\(chaos)/proxies/echo/connections", method: .DELETE)
                #expect(dropped.json["dropped"] as? Int == 2)
                #expect(first.receive().end == .reset)
                #expect(second.receive().end == .reset)
                #expect(try self.roundTrip(port).2 == "ping")
            }
        }
    }
}

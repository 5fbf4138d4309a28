import Foundation
import TestSupport
import Testing

extension Integration {
    /// A proxy holds a bounded number of bytes for a client that reads slowly or not at all, with
    /// and without toxics that delay what it writes: it stops reading its upstream instead.
    @Suite("Chaos: back-pressure from a slow client to the upstream")
    struct ChaosBackPressureTests {
        /// More than all the socket buffers between the source and the client can hold (on
        /// loopback each can grow to a few MiB), so a proxy without back-pressure shows.
        private static let total = 64 << 20
        private static let bound = 40 << 20

        private func withSourceProxy(
            total: Int = Self.total,
            _ body: (_ chaos: String, _ port: Int, _ source: SourceServer) async throws -> Void
        ) async throws {
            let source = try await SourceServer(total: total)
            do {
                try await Harness.withChaos { chaos in
                    let port = try await Harness.createProxy(chaos, name: "source", upstreamPort: source.port)
                    try await body(chaos, port, source)
                }
            } catch {
                await source.stop()
                throw error
            }
            await source.stop()
        }

        /// Waits until the source has made no progress for 300 ms (it is held back, or done) and
        /// returns what it sent by then.
        private func sentOnceStalled(_ source: SourceServer) async -> Int {
            var last = -1
            _ = await eventually {
                let now = source.sent
                defer { last = now }
                guard now == last else {
                    try? await Task.sleep(for: .milliseconds(300))
                    return false
                }
                return true
            }
            return source.sent
        }

        @Test("a client that reads nothing holds the upstream back; once it reads, every byte arrives in order")
        func clientReadsNothing() async throws {
            try await self.withSourceProxy { _, port, source in
                let probe = try TCPProbe(port: port)
                let held = await self.sentOnceStalled(source)
                #expect(held > 0, "the source started sending")
                #expect(held < Self.bound, "the proxy took \(held) bytes for a client that read none")

                let received = probe.receive(upTo: Self.total, wait: .seconds(10))
                #expect(received.bytes.count == Self.total)
                // A Bool, not `==` inside #expect: on a mismatch it would diff two 64 MiB arrays.
                let intact = received.bytes == SourceServer.pattern(Self.total)
                #expect(intact, "the bytes arrived whole and in order")
            }
        }

        @Test("latency on the way to the client: the proxy schedules a bounded amount, not what the upstream can send")
        func delayedWritesAreBounded() async throws {
            try await self.withSourceProxy { chaos, port, source in
                try await Harness.addToxic(
                    chaos,
                    proxy: "source",
                    #"{"type":"latency","stream":"downstream","attributes":{"latency":1000}}"#
                )
                let probe = try TCPProbe(port: port)
                let first = probe.receive(upTo: 1, wait: .seconds(10))
                #expect(first.bytes == [0], "the first byte arrived after the latency")
                #expect(source.sent < Self.bound, "the proxy took \(source.sent) bytes in the latency's second")
            }
        }

        @Test("latency on the way to the client: once the delayed bytes are out, the proxy reads on, to the end")
        func delayedWritesResumeReading() async throws {
            // Several times the 256 KiB the proxy schedules at most, so reading has to stop and
            // start again a few times; at 256 KiB per 50 ms this takes well under the wait.
            let total = 2 << 20
            try await self.withSourceProxy(total: total) { chaos, port, _ in
                try await Harness.addToxic(
                    chaos,
                    proxy: "source",
                    #"{"type":"latency","stream":"downstream","attributes":{"latency":50}}"#
                )
                let received = try TCPProbe(port: port).receive(upTo: total, wait: .seconds(5))
                #expect(received.bytes.count == total, "\(received.bytes.count) of \(total) bytes arrived")
                let intact = received.bytes == SourceServer.pattern(total)
                #expect(intact, "the bytes arrived whole and in order")
            }
        }
    }
}

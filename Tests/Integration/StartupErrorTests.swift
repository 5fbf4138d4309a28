import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TestSupport
import Testing

extension Integration {
    @Suite("Startup and listen errors say what is wrong and what to do")
    struct StartupErrorTests {
        private static func sibling(_ name: String) -> String {
            URL(fileURLWithPath: AppProcess.executable).deletingLastPathComponent().appendingPathComponent(name).path
        }

        /// Runs `body` with a port that something else is listening on.
        private func withBusyPort(_ body: (Int) async throws -> Void) async throws {
            let busy = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: 0).get()
            do {
                try await body(busy.localAddress?.port ?? 0)
            } catch {
                try? await busy.close()
                throw error
            }
            try await busy.close()
        }

        @Test("fake-upstream and chaos on a busy port name the address and the flag, exit 1, no NIO errno")
        func busyPort() async throws {
            try await self.withBusyPort { port in
                for program in ["fake-upstream", "chaos"] {
                    let (status, output) = try runCommand([Self.sibling(program), "--port", String(port)])
                    #expect(status == 1, "\(program): \(output)")
                    #expect(
                        output.contains("\(program): cannot listen on 127.0.0.1:\(port): the address is already in use")
                    )
                    #expect(output.contains("--port"))
                    #expect(!output.contains("errno"), "\(output)")
                }
            }
        }

        @Test("rickmorty-api: --port abc names the flag, HOST=not-a-host stops before the database is opened")
        func appSettings() throws {
            let folder = NSTemporaryDirectory() + "rm-startup-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let (portStatus, portOutput) = try runCommand([AppProcess.executable, "--port", "abc"])
            #expect(portStatus == 2)
            #expect(portOutput.contains(#"invalid --port="abc""#), "\(portOutput)")
            let (hostStatus, hostOutput) = try runCommand(
                ["/usr/bin/env", "HOST=not-a-host", "DATABASE_URL=sqlite:\(folder)/rm.sqlite", AppProcess.executable]
            )
            #expect(hostStatus == 2)
            #expect(hostOutput.contains(#"invalid HOST="not-a-host""#), "\(hostOutput)")
            #expect(!FileManager.default.fileExists(atPath: folder), "the database was opened anyway")
        }

        @Test("a Chaos proxy asked to listen on a busy port is a 409 that says so")
        func busyProxyListen() async throws {
            try await self.withBusyPort { port in
                try await Harness.withChaos { chaos in
                    let created = try await Harness.send(
                        .POST,
                        "\(chaos)/proxies",
                        #"{"name":"db","listen":"127.0.0.1:\#(port)","upstream":"127.0.0.1:1"}"#
                    )
                    #expect(created.status == 409)
                    let error = created.json["error"] as? String ?? ""
                    #expect(
                        error.hasPrefix("cannot listen on 127.0.0.1:\(port): the address is already in use"),
                        "\(error)"
                    )
                    #expect(try await fetch("\(chaos)/proxies/db").status == 404, "nothing half-created")
                }
            }
        }
    }
}

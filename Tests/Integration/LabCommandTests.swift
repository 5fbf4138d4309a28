import Foundation
import NIOCore
import NIOPosix
import TestSupport
import Testing

extension Integration {
    @Suite("The lab executable's refusals")
    struct LabCommandTests {
        static var executable: String { "\(BackgroundProcess.binaries)/lab" }

        @Test("a busy port is named with its flag; lab down without a lab says there is nothing to stop")
        func refusals() async throws {
            let busy = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: 0).get()
            let port = try #require(busy.localAddress?.port)
            let state = NSTemporaryDirectory() + "rm-lab-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: state) }
            let (status, output) = try runCommand([
                Self.executable, "up", "--state-dir", state, "--app-port", "0", "--fake-upstream-port", "0",
                "--postgres-port", "0", "--upstream-proxy-port", "0", "--postgres-proxy-port", "0",
                "--chaos-port", String(port),
            ])
            try await busy.close()
            #expect(status == 1)
            #expect(output.contains("port \(port) (--chaos-port) is in use"))
            #expect(!FileManager.default.fileExists(atPath: "\(state)/lab.json"))

            let (downStatus, downOutput) = try runCommand([Self.executable, "down", "--state-dir", state])
            #expect(downStatus == 1)
            #expect(downOutput.contains("no lab is recorded"))
        }
    }
}

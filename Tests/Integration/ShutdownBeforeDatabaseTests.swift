import Foundation
import NIOCore
import NIOPosix
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite("Shutdown before the database ever answered")
    struct ShutdownBeforeDatabaseTests {
        @Test(
            "SIGTERM while the database has never been reachable: the refresher stops waiting, exit 0 within the drain"
        )
        func sigtermWithoutDatabase() async throws {
            let nowhere = try freePort()  // nothing listens there
            let app = try AppProcess(environment: [
                "DATABASE_URL": "postgres://rm@127.0.0.1:\(nowhere)/postgres",
                "UPSTREAM_BASE_URL": "http://127.0.0.1:\(nowhere)/api",
                "SHUTDOWN_DRAIN_DELAY": "0.2",
            ])
            defer { app.cleanUp() }
            #expect(await eventually { (try? await fetch("\(app.baseURL)/readyz"))?.status == 503 })
            let started = ContinuousClock.now
            app.signal(SIGTERM)
            let status = await app.waitForExit(timeout: .seconds(10))
            #expect(status == 0, "exit status \(String(describing: status)):\n\(app.log.suffix(1500))")
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(!app.log.contains("Fatal error"))
        }

        @Test("a port already in use while the database is unreachable: exit 1 with the reason, no crash")
        func busyPortWithoutDatabase() async throws {
            let busy = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: 0).get()
            let port = busy.localAddress?.port ?? 0
            let nowhere = try freePort()
            let app = try BackgroundProcess(
                [AppProcess.executable],
                environment: [
                    "HOST": "127.0.0.1", "PORT": String(port),
                    "DATABASE_URL": "postgres://rm@127.0.0.1:\(nowhere)/postgres",
                    "UPSTREAM_BASE_URL": "http://127.0.0.1:\(nowhere)/api",
                ]
            )
            defer { app.cleanUp() }
            let status = await app.waitForExit(timeout: .seconds(10))
            try await busy.close()
            #expect(status == 1, "exit status \(String(describing: status)):\n\(app.log.suffix(1500))")
            #expect(app.log.contains("cannot listen on 127.0.0.1:\(port): the address is already in use"))
            #expect(!app.log.contains("errno"))
            #expect(!app.log.contains("Fatal error"))
        }
    }
}

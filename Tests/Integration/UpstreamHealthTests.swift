import FakeUpstreamKit
import Foundation
import TestSupport
import Testing

@testable import RickMortyAPI

extension Integration {
    @Suite("Health says why the upstream is failing")
    struct UpstreamHealthTests {
        @Test(
            "checks.upstream.error carries the last failure's reason, also while the circuit is open",
            arguments: [
                (#"{"action":{"status":503}}"#, "HTTP 503"),
                (#"{"action":{"transport":"hang","hang_ms":5000}}"#, "timeout after 1 s"),
            ]
        )
        func reason(behavior: String, expected: String) async throws {
            try await Backend.sqlite.withDatabase { database, _ in
                try await Harness.withFakeUpstream(characters: 20) { upstream, fake in
                    try fake.store.add(Behavior.decode(json: Data(behavior.utf8)))
                    let config = try Harness.appConfig(
                        database: database,
                        upstream: upstream,
                        ["REQUEST_TIMEOUT": "1", "MAX_RETRIES": "1", "UPSTREAM_BREAKER_THRESHOLD": "2"]
                    )
                    try await Harness.withApp(config) { app in
                        func upstreamCheck() async -> [String: Any] {
                            let health = try? await fetch("\(app.baseURL)/healthcheck").json
                            return (health?["checks"] as? [String: Any])?["upstream"] as? [String: Any] ?? [:]
                        }
                        #expect(
                            await eventually(timeout: .seconds(15)) {
                                await upstreamCheck()["circuit"] as? String == "open"
                            }
                        )
                        let check = await upstreamCheck()
                        #expect(check["ok"] as? Bool == false)
                        #expect(check["error"] as? String == expected)
                    }
                }
            }
        }
    }
}

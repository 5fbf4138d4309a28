import AsyncHTTPClient
import ChaosKit
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport

extension Harness {
    /// A chaos control server in-process on a free port; the body gets its base URL.
    static func withChaos<T>(seed: UInt64 = 0, _ body: (String) async throws -> T) async throws -> T {
        let chaos = ChaosServer(host: "127.0.0.1", port: 0, seed: seed)
        do {
            let result = try await Harness.run(
                services: { [chaos.service(logger: Harness.quiet, onServerRunning: $0)] },
                body: { port in try await body("http://127.0.0.1:\(port)") }
            )
            await chaos.registry.stopAll()
            return result
        } catch {
            await chaos.registry.stopAll()
            throw error
        }
    }

    /// Sends `json` with `method` and returns the answer (``fetch(_:method:headers:body:)``).
    static func send(
        _ method: HTTPMethod,
        _ url: String,
        _ json: String,
        headers: [(String, String)] = []
    ) async throws -> HTTPResult {
        try await fetch(url, method: method, headers: headers, body: json)
    }

    /// Creates a proxy to `upstreamPort` and returns the port it listens on.
    static func createProxy(_ chaos: String, name: String, upstreamPort: Int) async throws -> Int {
        let created = try await Harness.send(
            .POST,
            "\(chaos)/proxies",
            #"{"name":"\#(name)","listen":"127.0.0.1:0","upstream":"127.0.0.1:\#(upstreamPort)"}"#
        )
        guard created.status == 201, let listen = created.json["listen"] as? String,
            let port = Int(listen.split(separator: ":").last ?? "")
        else { throw HarnessError("proxy not created: \(created.status) \(created.body)") }
        return port
    }

    /// Adds a toxic; fails the test's setup when the server refuses it.
    @discardableResult
    static func addToxic(_ chaos: String, proxy: String, _ json: String) async throws -> HTTPResult {
        let result = try await Harness.send(.POST, "\(chaos)/proxies/\(proxy)/toxics", json)
        guard result.status == 200 else { throw HarnessError("toxic refused: \(result.status) \(result.body)") }
        return result
    }

    /// Waits until `proxy` has no open connection (`chaos_proxy_active_connections` is 0.0), and
    /// says whether that happened. A client's close reaches the proxy a moment after the client
    /// moved on, and `PUT /seed` numbers a connection that is still open 1, so a replay waits
    /// for this first.
    static func noOpenConnections(_ chaos: String, proxy: String) async throws -> Bool {
        try await eventually {
            let metrics = try await fetch("\(chaos)/metrics").body
            return metrics.split(separator: "\n").contains {
                $0 == #"chaos_proxy_active_connections{proxy="\#(proxy)"} 0.0"#
            }
        }
    }

    /// The chaos server's decision journal.
    static func chaosEvents(_ chaos: String) async throws -> [[String: Any]] {
        try await fetch("\(chaos)/events").json["events"] as? [[String: Any]] ?? []
    }
}

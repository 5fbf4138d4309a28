import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Where the E2E suite finds the system: `APP_URL`, `CHAOS_URL` and `FAKE_UPSTREAM_URL` (a lab
/// or a Kind cluster someone else runs), or else a lab this suite starts with `lab up`.
struct LabEndpoints: Sendable {
    var app: String
    var chaos: String
    var fakeUpstream: String
    /// Chaos's control API token (`CHAOS_TOKEN`), sent as a Bearer token on every chaos request;
    /// needed when Chaos runs with one, as the chart's lab mode does.
    var chaosToken: String?
    /// Known only when this suite started the lab: what a second App needs to join it.
    var databaseURL: String?
    var upstreamURL: String?
    /// Known only when this suite started the lab: its `lab up` state folder, which scenario
    /// steps that signal the App need.
    var stateDirectory: String?

    @TaskLocal static var current: LabEndpoints?

    /// The lab of the running suite.
    static var lab: LabEndpoints {
        get throws {
            guard let current else { throw HarnessError("no lab: run the test inside the E2E suite") }
            return current
        }
    }
}

/// Runs the whole E2E suite inside one lab: the one the environment names, or one started here
/// with `lab up` (free ports, a throwaway state folder) and stopped with SIGTERM afterwards.
struct LabScope: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        let environment = ProcessInfo.processInfo.environment
        if let app = environment["APP_URL"], let chaos = environment["CHAOS_URL"],
            let fake = environment["FAKE_UPSTREAM_URL"]
        {
            let endpoints = LabEndpoints(
                app: app,
                chaos: chaos,
                fakeUpstream: fake,
                chaosToken: environment["CHAOS_TOKEN"]
            )
            try await LabEndpoints.$current.withValue(endpoints) { try await function() }
            return
        }
        let state = NSTemporaryDirectory() + "rm-e2e-lab-\(UUID().uuidString.prefix(8))"
        let ports = [
            "--app-port", "--chaos-port", "--fake-upstream-port", "--postgres-port", "--upstream-proxy-port",
            "--postgres-proxy-port",
        ]
        let lab = try BackgroundProcess(
            ["\(BackgroundProcess.binaries)/lab", "up", "--state-dir", state] + ports.flatMap { [$0, "0"] }
        )
        defer {
            lab.cleanUp()
            try? FileManager.default.removeItem(atPath: state)
        }
        // SIGTERM, so that the lab stops what it started; a SIGKILL (cleanUp) would leave its
        // children running. Every way out of here goes through this first.
        func stop() async -> Int32? {
            lab.signal(SIGTERM)
            return await lab.waitForExit(timeout: .seconds(60))
        }
        var endpoints: LabEndpoints
        do {
            endpoints = try await Self.waitForLab(lab, state: state)
            endpoints.stateDirectory = state
        } catch {
            _ = await stop()
            throw error
        }
        do {
            try await LabEndpoints.$current.withValue(endpoints) { try await function() }
        } catch {
            _ = await stop()
            throw error
        }
        let status = await stop()
        #expect(status == 0, "lab up stops cleanly on SIGTERM:\n\(lab.log.suffix(2000))")
    }

    /// Waits for `lab.json` and reads the URLs from it; explains a lab that never got ready.
    private static func waitForLab(_ lab: BackgroundProcess, state: String) async throws -> LabEndpoints {
        let recordPath = "\(state)/lab.json"
        let ready = await eventually(timeout: .seconds(120)) {
            FileManager.default.fileExists(atPath: recordPath) || kill(lab.pid, 0) != 0
        }
        guard ready, let data = FileManager.default.contents(atPath: recordPath),
            let record = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let app = record["app"] as? String, let chaos = record["chaos"] as? String,
            let fake = record["fakeUpstream"] as? String
        else {
            // A crash report starts with its cause; show that as well as how the lab ended.
            let log = lab.log
            let crash = ["Fatal error", "💣", "Program crashed"].compactMap { log.range(of: $0) }.min {
                $0.lowerBound < $1.lowerBound
            }
            let cause = crash.map { "\(log[$0.lowerBound...].prefix(2500))\n…\n" } ?? ""
            throw HarnessError("lab up did not become ready:\n\(cause)\(log.suffix(1500))")
        }
        let proxies = try await fetch("\(chaos)/proxies").json
        let upstreamProxy = (proxies["upstream"] as? [String: Any])?["listen"] as? String
        return LabEndpoints(
            app: app,
            chaos: chaos,
            fakeUpstream: fake,
            databaseURL: record["databaseURL"] as? String,
            upstreamURL: upstreamProxy.map { "http://\($0)/api" }
        )
    }
}

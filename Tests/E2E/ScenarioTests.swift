import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The reliability scenarios, black-box over HTTP against one lab. Each scenario leaves the lab
/// as it found it (no toxics, no behaviours, healthy, known answer stored). The baseline, the
/// database cut, the database latency and the ambiguous commit are scenario files now
/// (`ops/scenarios`), run through `lab scenario run` by `CatalogueTests.swift`; the ones here
/// still need more than a file can say.
@Suite("E2E scenarios", .serialized, LabScope())
struct ScenarioTests {
    @Test("2. upstream 5xx and 429 storms: Retry-After honoured, old data kept, health degraded then ok")
    func upstreamStorms() async throws {
        let lab = try LabEndpoints.lab
        try await lab.restore()
        let expected = try await lab.knownAnswer()

        // A short storm on page 2 during the next refresh: 503, 503, then 429 with Retry-After: 1.
        _ = try await fetch("\(lab.fakeUpstream)/__admin/requests", method: .DELETE)
        try await lab.behave(
            #"{"match":{"path":"/api/character","query":{"page":"2"}},"action":{"status":503},"times":2}"#
        )
        try await lab.behave(
            #"{"match":{"path":"/api/character","query":{"page":"2"}},"action":{"status":429,"headers":{"Retry-After":"1"}},"times":1}"#
        )
        let failures = try await lab.metric(#"ingest_runs_total{result="failure"}"#)
        // The next refresh that reaches page 2 meets the storm (one already past page 2 when the
        // behaviours went in finishes without it, and is not the one this checks).
        _ = await eventually(timeout: .seconds(90)) {
            (try? await lab.journal(path: "/api/character", query: "page=2"))?.count ?? 0 >= 4
        }
        let page2 = try await lab.journal(path: "/api/character", query: "page=2")
        let statuses = page2.compactMap { $0["status"] as? Int }
        #expect(Array(statuses.prefix(4)) == [503, 503, 429, 200], "journal: \(statuses)")
        if page2.count >= 4, let throttled = page2[2]["time"] as? Double, let retried = page2[3]["time"] as? Double {
            #expect(retried - throttled >= 1.0, "the retry waited for Retry-After: \(retried - throttled) s")
            // That refresh succeeds: a success after the retry, and no failure in between.
            #expect(
                await eventually(timeout: .seconds(60)) {
                    (try? await lab.metric("ingest_last_success_timestamp_seconds")) ?? 0 >= retried
                },
                "a refresh succeeds despite the storm"
            )
            #expect(try await lab.metric(#"ingest_runs_total{result="failure"}"#) == failures)
        }
        #expect(try await lab.storedIDs() == expected)

        // A lasting storm: every upstream call fails. Health turns degraded, the data stays.
        try await lab.behave(#"{"match":{"path_prefix":"/api"},"action":{"status":503}}"#)
        #expect(
            await eventually(timeout: .seconds(60)) {
                let health = try? await lab.healthcheck()
                return health?.status == 200 && health?.body["status"] as? String == "degraded"
                    && health?.body["upstream_ok"] as? Bool == false
            },
            "degraded while the upstream fails"
        )
        #expect(try await lab.storedIDs() == expected, "a failed refresh changes nothing")
        _ = try await fetch("\(lab.fakeUpstream)/__admin/behaviors", method: .DELETE)
        #expect(
            await eventually(timeout: .seconds(60)) {
                (try? await lab.healthcheck())?.body["status"] as? String == "ok"
            },
            "ok again once the upstream recovers"
        )
        try await lab.restore()
    }

    @Test(
        "6. SIGTERM under steady load: every request sent before the signal succeeds, the App exits 0",
        .enabled(if: ProcessInfo.processInfo.environment["APP_URL"] == nil, "needs a lab this suite started")
    )
    func sigtermUnderLoad() async throws {
        let lab = try LabEndpoints.lab
        try await lab.restore()
        let database = try #require(lab.databaseURL)
        let upstream = try #require(lab.upstreamURL)
        // A second App on the same database and upstream, so the lab's own App keeps running.
        let app = try AppProcess(environment: [
            "DATABASE_URL": database, "UPSTREAM_BASE_URL": upstream, "REFRESH_WORKER_ENABLED": "false",
            "LOG_LEVEL": "warning",
        ])
        defer { app.cleanUp() }
        #expect(await eventually(timeout: .seconds(30)) { (try? await fetch("\(app.baseURL)/readyz"))?.status == 200 })
        // Slow database answers keep requests in flight when the signal arrives.
        try await lab.chaos(.POST, "/proxies/postgres/toxics", #"{"type":"latency","attributes":{"latency":300}}"#)

        let load = Load()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    while !load.stopped {
                        let n = load.next()
                        let started = ContinuousClock.now
                        do {
                            let result = try await fetch(
                                "\(app.baseURL)/characters?page=\(n % 5 + 1)&page_size=\(n / 5 % 80 + 11)",
                                headers: [("Connection", "close")]
                            )
                            load.outcomes.withLock {
                                $0.append(
                                    Load.Outcome(started: started, finished: .now, status: result.status, error: nil)
                                )
                            }
                        } catch {
                            load.outcomes.withLock {
                                $0.append(
                                    Load.Outcome(started: started, finished: .now, status: nil, error: "\(error)")
                                )
                            }
                        }
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))  // steady load first
                load.signalled.withLock { $0 = .now }
                app.signal(SIGTERM)
                _ = await app.waitForExit(timeout: .seconds(30))
                load.stop()
            }
        }
        try await lab.chaos(.DELETE, "/proxies/postgres/toxics/latency_downstream")
        let signal = try #require(load.signalled.withLock { $0 })
        let before = load.outcomes.withLock { $0.filter { $0.started < signal } }
        let inFlight = before.filter { $0.finished > signal }
        #expect(before.count >= 8)
        #expect(!inFlight.isEmpty, "some requests were in flight when SIGTERM arrived")
        let failed = before.filter { $0.status != 200 }
        #expect(failed.isEmpty, "failed: \(failed.prefix(3).map { $0.error ?? "status \($0.status ?? 0)" })")
        #expect(await app.waitForExit(timeout: .seconds(1)) == 0, "exit status 0:\n\(app.log.suffix(1000))")
        try await lab.restore()
    }
}

/// Shared state of a load run's clients.
private final class Load: Sendable {
    struct Outcome: Sendable {
        let started: ContinuousClock.Instant
        let finished: ContinuousClock.Instant
        let status: Int?
        let error: String?
    }

    let outcomes = Mutex<[Outcome]>([])
    let signalled = Mutex<ContinuousClock.Instant?>(nil)
    private let counter = Atomic<Int>(0)
    private let done = Atomic<Bool>(false)

    /// A new request number: each one asks for a different page, so each is a cache miss.
    func next() -> Int { self.counter.add(1, ordering: .relaxed).newValue }
    var stopped: Bool { self.done.load(ordering: .relaxed) }
    func stop() { self.done.store(true, ordering: .relaxed) }
}

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
/// as it found it (no toxics, no behaviours, healthy, known answer stored).
@Suite("E2E scenarios", .serialized, LabScope())
struct ScenarioTests {
    /// Light steady traffic while a scenario runs: cached and uncached pages and `/healthz`.
    /// Returns every `/characters` status seen.
    /// Ten rounds a second of a cached page, a second `/characters` page and `/healthz`; the
    /// statuses of the `/characters` requests. With `uncached`, the second page is one nobody asked
    /// for before (a random page past the end, which still needs the database): cached pages of
    /// the current generation outlive refreshes that change nothing, so an earlier scenario's
    /// pages may all still be in the cache.
    private func traffic(
        _ lab: LabEndpoints,
        for duration: Duration,
        uncached: Bool = false
    ) async -> [Int] {
        var statuses: [Int] = []
        let deadline = ContinuousClock.now + duration
        var size = 1
        while ContinuousClock.now < deadline {
            let started = ContinuousClock.now
            let page = uncached ? Int.random(in: 100_000...999_999) : 1
            for url in [
                "\(lab.app)/characters?page=1&page_size=10",
                "\(lab.app)/characters?page=\(page)&page_size=\(size % 90 + 11)", "\(lab.app)/healthz",
            ] {
                if let result = try? await fetch(url), url.contains("/characters") { statuses.append(result.status) }
            }
            size += 1
            // Pacing: about ten rounds a second.
            try? await Task.sleep(until: started + .milliseconds(100))
        }
        return statuses
    }

    @Test("1. baseline: the known answer is served, health is ok, and no alert would fire")
    func baseline() async throws {
        let lab = try LabEndpoints.lab
        try await lab.restore()
        let recording = try await MetricsRecording(app: lab.app)
        let statuses = await self.traffic(lab, for: .seconds(15))
        let seconds = try await recording.stop()
        #expect(seconds >= 14, "one sample a second")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") {
            #expect(recording.source == "prometheus", "recorded through the installed Prometheus")
        }
        #expect(try await lab.storedIDs() == lab.knownAnswer())
        let health = try await lab.healthcheck()
        #expect(health.status == 200 && health.body["status"] as? String == "ok")
        #expect(health.body["db_ok"] as? Bool == true && health.body["upstream_ok"] as? Bool == true)
        #expect(!statuses.isEmpty && statuses.allSatisfy { $0 == 200 })
        let complaint = try recording.replay(expectFiring: [])
        #expect(complaint == nil, "recorded by \(recording.source): \(complaint ?? "")")
    }

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
        let successes = try await lab.metric(#"ingest_runs_total{result="success"}"#)
        #expect(
            await eventually(timeout: .seconds(90)) {
                (try? await lab.metric(#"ingest_runs_total{result="success"}"#)) ?? 0 > successes
            },
            "a refresh succeeds despite the storm"
        )
        let page2 = try await lab.journal(path: "/api/character", query: "page=2")
        let statuses = page2.compactMap { $0["status"] as? Int }
        #expect(Array(statuses.prefix(4)) == [503, 503, 429, 200], "journal: \(statuses)")
        if page2.count >= 4, let throttled = page2[2]["time"] as? Double, let retried = page2[3]["time"] as? Double {
            #expect(retried - throttled >= 1.0, "the retry waited for Retry-After: \(retried - throttled) s")
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

    @Test("3. database cut: cached pages 200, the rest 503 + Retry-After (never 500), not ready, down; recovers")
    func databaseCut() async throws {
        let lab = try LabEndpoints.lab
        try await lab.restore()
        let cached = "\(lab.app)/characters?page=1&page_size=10"
        _ = try await fetch(cached)
        #expect(try await fetch(cached).status == 200)
        let recording = try await MetricsRecording(app: lab.app)
        var statuses = await self.traffic(lab, for: .seconds(3))

        // Reset the open connections, then refuse new ones.
        try await lab.chaos(.DELETE, "/proxies/postgres/connections")
        try await lab.chaos(.POST, "/proxies/postgres", #"{"enabled":false}"#)
        #expect(await eventually(timeout: .seconds(30)) { (try? await fetch("\(lab.app)/readyz"))?.status == 503 })
        let health = try await lab.healthcheck()
        #expect(health.status == 503 && health.body["status"] as? String == "down")
        #expect(try await fetch(cached).status == 200, "a cached page is still served")
        for size in 11...20 {
            // A page nobody asked for before, also when the suite runs again against the same lab.
            let page = Int.random(in: 100_000...999_999)
            let uncached = try await fetch("\(lab.app)/characters?page=\(page)&page_size=\(size)")
            #expect(uncached.status == 503)
            #expect(uncached.headers["Retry-After"].first != nil)
            #expect(uncached.headers["Content-Type"].first == "application/problem+json")
        }
        statuses += await self.traffic(lab, for: .seconds(12), uncached: true)

        try await lab.chaos(.POST, "/proxies/postgres", #"{"enabled":true}"#)
        #expect(await eventually(timeout: .seconds(30)) { (try? await fetch("\(lab.app)/readyz"))?.status == 200 })
        #expect(
            try await fetch("\(lab.app)/characters?page=3&page_size=7").status == 200,
            "recovered without a restart"
        )
        statuses += await self.traffic(lab, for: .seconds(5), uncached: true)
        try await recording.stop()

        #expect(!statuses.contains(500), "never a 500")
        #expect(statuses.contains(503) && statuses.contains(200))
        let complaint = try recording.replay(expectFiring: ["DatabaseDown", "HighErrorRate"])
        #expect(complaint == nil, "recorded by \(recording.source): \(complaint ?? "")")
        try await lab.restore()
    }

    @Test("4. database latency: the p95 of /characters rises past the alert threshold and HighLatencyP95 fires")
    func databaseLatency() async throws {
        let lab = try LabEndpoints.lab
        try await lab.restore()
        let recording = try await MetricsRecording(app: lab.app)
        _ = await self.traffic(lab, for: .seconds(3))
        try await lab.chaos(.POST, "/proxies/postgres/toxics", #"{"type":"latency","attributes":{"latency":700}}"#)
        // Four clients asking for pages nobody asked for before (cache misses).
        let load = Load()
        let deadline = ContinuousClock.now + .seconds(20)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    while ContinuousClock.now < deadline {
                        let n = load.next()
                        _ = try? await fetch("\(lab.app)/characters?page=\(n % 5 + 1)&page_size=\(n / 5 % 80 + 11)")
                    }
                }
            }
        }
        try await lab.chaos(.DELETE, "/proxies/postgres/toxics/latency_downstream")
        try await recording.stop()
        let p95 = try #require(recording.p95Characters())
        #expect(p95 > 0.5, "p95 bucket of /characters: \(p95) s")
        let complaint = try recording.replay(expectFiring: ["HighLatencyP95"])
        #expect(complaint == nil, "recorded by \(recording.source): \(complaint ?? "")")
        try await lab.restore()
    }

    @Test("5. ambiguous commit during ingest: the stored set is the old or the new snapshot, never a mix")
    func ambiguousCommit() async throws {
        let lab = try LabEndpoints.lab
        try await lab.restore()
        let old = try await lab.storedIDs()

        // The upstream changes: every page loses its first character.
        try await lab.behave(#"{"match":{"path":"/api/character"},"action":{"pagination":{"results":"drop_first"}}}"#)
        let new = try await self.upstreamSnapshot(lab)
        try #require(new != old, "the change must touch a stored character")

        let seen = try await lab.chaos(.GET, "/events").json["events"] as? [[String: Any]] ?? []
        try await lab.chaos(.POST, "/proxies/postgres/toxics", #"{"type":"pg_drop_after_commit"}"#)
        #expect(
            await eventually(timeout: .seconds(60)) {
                let events = (try? await lab.chaos(.GET, "/events").json["events"] as? [[String: Any]]) ?? []
                return events.dropFirst(seen.count).contains {
                    ($0["outcome"] as? String)?.hasPrefix("dropped after COMMIT") == true
                }
            },
            "a refresh's COMMIT went through the proxy and its reply was withheld"
        )
        try await lab.chaos(.DELETE, "/proxies/postgres/toxics/pg_drop_after_commit_downstream")
        let after = try await lab.storedIDs()
        #expect(
            after == old || after == new,
            "stored \(after.count) ids: neither the old \(old.count) nor the new \(new.count)"
        )
        #expect(
            await eventually(timeout: .seconds(60)) { (try? await lab.storedIDs()) == new },
            "the next refresh stores the new snapshot"
        )
        try await lab.restore()
        #expect(try await lab.storedIDs() == old)
    }

    /// What App should store from the upstream as it answers now: Human, Alive, origin `Earth (…)`.
    private func upstreamSnapshot(_ lab: LabEndpoints) async throws -> [Int] {
        var ids: [Int] = []
        var page = 1
        while page <= 1000 {
            let body = try await fetch("\(lab.fakeUpstream)/api/character?page=\(page)").json
            for character in body["results"] as? [[String: Any]] ?? [] {
                let origin = (character["origin"] as? [String: Any])?["name"] as? String ?? ""
                if character["species"] as? String == "Human", character["status"] as? String == "Alive",
                    origin.hasPrefix("Earth ("), origin.hasSuffix(")"), let id = character["id"] as? Int
                {
                    ids.append(id)
                }
            }
            guard let info = body["info"] as? [String: Any], page < info["pages"] as? Int ?? 0 else { break }
            page += 1
        }
        return ids.sorted()
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

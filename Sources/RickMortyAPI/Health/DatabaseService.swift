import Foundation
import Logging
import Native
import Prometheus
import ServiceLifecycle

/// Opens and migrates the database (retrying with backoff while it is unreachable), then checks
/// it every `interval`, keeping readiness, the page cache's generation and the gauges current.
struct DatabaseService<C: Clock>: Service where C.Duration == Duration {
    let store: any CharacterStore
    /// `sqlite` or `postgres`, for logs.
    let backend: String
    let monitor: HealthMonitor
    let cache: PageCache<C>
    let metrics: AppMetrics
    let clock: C
    let interval: Duration
    let logger: Logger
    let wallClock: @Sendable () -> Double

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.migrateWithRetry()
            while !Task.isCancelled {
                await self.check()
                do { try await self.clock.sleep(for: self.interval) } catch { return }
            }
        }
        await self.store.close()
    }

    private func migrateWithRetry() async {
        var delay: Duration = .milliseconds(250)
        while !Task.isCancelled {
            do {
                try await self.store.migrate()
                self.monitor.markMigrated()
                self.logger.info("database ready", metadata: ["db.backend": "\(self.backend)"])
                return
            } catch {
                self.monitor.recordDatabase(ok: false, at: self.wallClock(), state: nil, error: Self.summary(error))
                self.metrics.dbOK.set(to: 0)
                self.metrics.dbError(kind: (error as? DatabaseError)?.kind.rawValue ?? "other")
                self.logger.warning(
                    "database not reachable; retrying",
                    metadata: ["db.error": "\(redacted(error))", "db.retry_in_seconds": "\(delay.seconds)"]
                )
                do { try await self.clock.sleep(for: delay) } catch { return }
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    /// One health check of the database: its answer feeds readiness, the gauges and the cache.
    func check() async {
        let started = ContinuousClock.now
        do {
            let state = try await self.store.state()
            self.metrics.dbQuery(op: "state", seconds: (ContinuousClock.now - started).seconds)
            let wasOK = self.monitor.database.ok
            self.monitor.recordDatabase(ok: true, at: self.wallClock(), state: state, error: nil)
            self.cache.observe(generation: state.generation)
            self.metrics.dbOK.set(to: 1)
            self.metrics.charactersStored.set(to: Double(state.count))
            if let last = state.lastRefresh {
                self.metrics.lastRefreshAge.set(to: max(0, self.wallClock() - last))
            } else {
                self.metrics.lastRefreshAge.set(to: .infinity)
            }
            if !wasOK { self.logger.info("database check succeeded", metadata: ["db.backend": "\(self.backend)"]) }
        } catch {
            let wasOK = self.monitor.database.ok
            self.monitor.recordDatabase(ok: false, at: self.wallClock(), state: nil, error: Self.summary(error))
            self.metrics.dbOK.set(to: 0)
            self.metrics.dbError(kind: (error as? DatabaseError)?.kind.rawValue ?? "other")
            if wasOK { self.logger.error("database check failed", metadata: ["db.error": "\(redacted(error))"]) }
        }
    }

    /// A short, secret-free description for `/healthcheck`.
    static func summary(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.kind.rawValue }
        return "error"
    }
}

import Logging
import Native
import Prometheus
import ServiceLifecycle

/// The background refresher (docs/api.md, "Refresh"): seed-if-empty and periodic refresh in one
/// loop and under one refresh lease, so that across replicas one refresh runs at a time and a
/// replica that finds the lease taken skips quietly. Failures retry with backoff; shutdown ends
/// the loop between steps, and a refresh interrupted mid-way writes nothing.
struct RefreshService<C: Clock>: Service where C.Duration == Duration {
    let store: any CharacterStore
    let ingestor: Ingestor<C>
    let monitor: HealthMonitor
    let cache: PageCache<C>
    let metrics: AppMetrics
    let clock: C
    let interval: Duration
    let logger: Logger
    let wallClock: @Sendable () -> Double

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.monitor.waitUntilMigrated()
            var failures = 0
            while !Task.isCancelled {
                let next = await self.tick(failures: &failures)
                do { try await self.clock.sleep(for: next) } catch { return }
            }
        }
    }

    /// One refresh attempt; returns how long to wait before the next.
    func tick(failures: inout Int) async -> Duration {
        let interval = self.interval.seconds
        let wallClock = self.wallClock
        let started = ContinuousClock.now
        do {
            let outcome = try await self.store.refresh(
                isDue: { state in
                    guard state.count > 0, let last = state.lastRefresh else { return true }
                    // Another replica's refresh within this interval counts as ours.
                    return wallClock() - last >= interval * 0.9
                },
                fetch: { try await self.ingestor.fetchAll() },
                now: wallClock
            )
            failures = 0
            switch outcome {
            case .replaced(let count, let generation, let changed):
                let seconds = (ContinuousClock.now - started).seconds
                self.cache.observe(generation: generation)
                self.metrics.ingestRun(result: .success)
                self.metrics.ingestDuration.record(seconds)
                self.metrics.ingestLastSuccess.set(to: wallClock())
                self.metrics.charactersStored.set(to: Double(count))
                self.metrics.lastRefreshAge.set(to: 0)
                let now = wallClock()
                self.monitor.recordReplaced(count: count, generation: generation, at: now)
                self.monitor.recordRefresh(result: .success, at: now, error: nil)
                self.logger.info(
                    changed ? "refresh stored characters" : "refresh found the stored characters unchanged",
                    metadata: [
                        "ingest.count": "\(count)", "ingest.generation": "\(generation)",
                        "ingest.changed": "\(changed)", "ingest.seconds": "\(seconds)",
                    ]
                )
                return self.interval
            case .skippedNotDue:
                self.metrics.ingestRun(result: .skippedFresh)
                self.monitor.recordRefresh(result: .skippedFresh, at: wallClock(), error: nil)
                return self.interval
            case .skippedLocked:
                self.metrics.ingestRun(result: .skippedLocked)
                self.logger.debug("refresh skipped: another replica holds the refresh lease")
                // Look again soon: if the holder fails, someone should retry.
                return min(self.interval, .seconds(5))
            }
        } catch is CancellationError {
            self.metrics.ingestRun(result: .cancelled)
            return .zero
        } catch {
            failures += 1
            self.metrics.ingestRun(result: .failure)
            if let error = error as? DatabaseError { self.metrics.dbError(kind: error.kind.rawValue) }
            self.monitor.recordRefresh(result: .failure, at: wallClock(), error: Self.summary(error))
            let delay = min(self.interval, .seconds(min(60, 1 << min(failures, 6))))
            self.logger.warning(
                "refresh failed; the stored data is unchanged",
                metadata: [
                    "ingest.error": "\(redacted(error))", "ingest.failures": "\(failures)",
                    "ingest.retry_in_seconds": "\(delay.seconds)",
                ]
            )
            return delay
        }
    }
}

extension RefreshService {
    /// A secret-free description for `/healthcheck`: never a libpq message or connection string.
    static func summary(_ error: any Error) -> String {
        switch error {
        case let error as IngestError: return error.description
        case let error as DatabaseError: return "database \(error.kind.rawValue)"
        case let error as RefreshLeaseLost: return error.description
        default: return "unexpected error"
        }
    }
}

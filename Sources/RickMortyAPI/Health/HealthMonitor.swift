import Native
import Synchronization

/// What the background checks last saw, read by `/readyz`, `/healthcheck` and the gauges.
/// Requests never run checks themselves (docs/api.md, "Health").
final class HealthMonitor: Sendable {
    struct DatabaseCheck: Sendable {
        var ok = false
        var checkedAt: Double?
        var error: String?
        var state: DataState?
    }

    struct RefreshRecord: Sendable {
        var lastResult: IngestResult?
        var lastAttemptAt: Double?
        var lastError: String?
    }

    private struct State {
        var migrated = false
        var shuttingDown = false
        var database = DatabaseCheck()
        var refresh = RefreshRecord()
        var migrationWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    /// Ready: the schema is in place, the last database check succeeded, and no shutdown began.
    var isReady: Bool {
        self.state.withLock { $0.migrated && $0.database.ok && !$0.shuttingDown }
    }

    var isMigrated: Bool { self.state.withLock { $0.migrated } }
    var isShuttingDown: Bool { self.state.withLock { $0.shuttingDown } }
    var database: DatabaseCheck { self.state.withLock { $0.database } }
    var refresh: RefreshRecord { self.state.withLock { $0.refresh } }

    /// Readiness turns 503 from now on.
    func beginShutdown() {
        self.state.withLock { $0.shuttingDown = true }
    }

    /// The schema is migrated: wakes everyone waiting in ``waitUntilMigrated()``.
    func markMigrated() {
        let waiters = self.state.withLock { state in
            state.migrated = true
            defer { state.migrationWaiters.removeAll() }
            return Array(state.migrationWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the schema is migrated, or when the waiting task is cancelled (a shutdown
    /// that comes before the database ever answered must not wait for it).
    func waitUntilMigrated() async {
        let id = self.state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Checked under the lock that onCancel takes too: a cancellation either finds the
                // waiter registered, or is seen here.
                let ready = self.state.withLock { state -> Bool in
                    if state.migrated || Task.isCancelled { return true }
                    state.migrationWaiters[id] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let waiter = self.state.withLock { $0.migrationWaiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    func recordDatabase(ok: Bool, at time: Double, state dataState: DataState?, error: String?) {
        self.state.withLock { state in
            state.database.ok = ok
            state.database.checkedAt = time
            state.database.error = error
            if let dataState { state.database.state = dataState }
        }
    }

    /// A refresh by this instance replaced the stored set: the new state is known without asking
    /// the database again.
    func recordReplaced(count: Int, generation: Int64, at time: Double) {
        self.state.withLock { state in
            state.database.state = DataState(count: count, generation: generation, lastRefresh: time)
        }
    }

    func recordRefresh(result: IngestResult, at time: Double, error: String?) {
        self.state.withLock { state in
            state.refresh.lastResult = result
            state.refresh.lastAttemptAt = time
            state.refresh.lastError = error
        }
    }
}

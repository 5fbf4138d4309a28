import NIOCore
import NIOPosix
import Native
import Synchronization

/// A fixed-size pool of blocking database connections that runs calls on them.
///
/// Connections open lazily, are used only on an `NIOThreadPool` thread (never on an event loop or
/// the cooperative pool), and are discarded when they report themselves broken, so the pool
/// reconnects by itself once the database is back.
///
/// A call is a closure that gets a connection. Calls queue in arrival order. The thread that
/// finishes a call takes the next queued one itself, with the same connection, so under load the
/// calls of a connection run back to back on one thread instead of each waking a thread of its
/// own. A call waits at most `acquireTimeout` for a connection (one event-loop timer serves the
/// whole queue), then fails with `poolExhausted`.
///
/// Request reads (``read(_:_:on:noting:eachRow:finish:)``) run on at most `readParallelism`
/// connections at once, even when more are idle; the rest queue behind them, and a connection
/// takes up to 16 queued reads at a time (PostgreSQL gets them in one round trip, in libpq's
/// pipeline mode). Each connection that is reading holds a thread of this process, and more such
/// threads than CPUs only add thread switches. Background work (``withConnection(_:)``:
/// migrations, checks, the refresh's write) is not counted, so reads go on beside a long write.
final class ConnectionPool: Sendable {
    /// The most queued reads sent down one connection together.
    private static let maxBatch = 16

    private let factory: @Sendable () throws -> any DatabaseConnection
    private let threadPool: NIOThreadPool
    private let eventLoop: any EventLoop
    private let acquireTimeout: Duration
    private let state: Mutex<State>

    /// - Parameters:
    ///   - capacity: the most connections open at once.
    ///   - readParallelism: the most connections running request reads at once (at most
    ///     `capacity`; nil: `capacity`).
    ///   - acquireTimeout: how long a call waits for a free connection before `poolExhausted`.
    ///   - eventLoop: runs the timer that expires waiting calls.
    ///   - factory: opens one connection; it blocks, and runs on the thread pool.
    init(
        capacity: Int,
        readParallelism: Int? = nil,
        acquireTimeout: Duration,
        threadPool: NIOThreadPool,
        eventLoop: any EventLoop,
        factory: @escaping @Sendable () throws -> any DatabaseConnection
    ) {
        self.state = Mutex(
            State(
                capacity: capacity,
                readParallelism: max(1, min(readParallelism ?? capacity, capacity)),
                acquireTimeout: .nanoseconds(Int64(acquireTimeout.seconds * 1e9))
            )
        )
        self.acquireTimeout = acquireTimeout
        self.threadPool = threadPool
        self.eventLoop = eventLoop
        self.factory = factory
    }

    /// Runs one statement as a request read: `eachRow` gets its rows on a pool thread, then
    /// `finish` makes the result there; the future completes on `eventLoop`. Reads that queue
    /// behind a busy connection go to the database together, up to 16 at a time (one round trip
    /// on PostgreSQL). `use`, when given, notes which connection served the read (for the
    /// request's log line).
    func read<T: Sendable>(
        _ sql: String,
        _ parameters: [DatabaseValue],
        on eventLoop: any EventLoop,
        noting use: DatabaseUse? = nil,
        eachRow: @escaping @Sendable (DatabaseRow) throws -> Void,
        finish: @escaping @Sendable () throws -> T
    ) -> EventLoopFuture<T> {
        let promise = eventLoop.makePromise(of: T.self)
        let query = Query(sql: sql, parameters: parameters, eachRow: eachRow, use: use) { result in
            promise.completeWith(result.flatMap { Result { try finish() } })
        }
        self.enqueue(Job(work: .query(query)), id: nil, honouringCancellation: false)
        return promise.futureResult
    }

    /// Runs `body` with a connection on the thread pool. A task cancelled while its call still
    /// waits for a connection stops waiting (`CancellationError`); a call already running finishes.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) throws -> T) async throws -> T
    {
        let id = self.state.withLock { $0.newID() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let call: Call = { result in
                    continuation.resume(with: result.flatMap { connection in Result { try body(connection) } })
                }
                self.enqueue(Job(work: .call(call)), id: id, honouringCancellation: true)
            }
        } onCancel: {
            self.state.withLock { $0.removeWaiter(id) }?.job.fail(CancellationError())
        }
    }

    /// Calls waiting for a connection (for tests and debugging).
    var waitingCount: Int { self.state.withLock { $0.waiters.count } }

    /// Closes the pool: idle connections are closed now (each frees its handle when released),
    /// connections in use when their call returns, and waiting and later calls get `serverShutdown`.
    func close() {
        var (idle, waiters) = self.state.withLock { $0.close() }
        // The last references to the idle connections, dropped outside the lock: this closes them.
        idle.removeAll()
        for waiter in waiters { waiter.job.fail(Self.closedError) }
    }

    static var closedError: DatabaseError {
        DatabaseError(kind: .serverShutdown, message: "the connection pool is closed (shutting down)")
    }

    private var exhausted: DatabaseError {
        DatabaseError(kind: .poolExhausted, message: "no free database connection within \(self.acquireTimeout)")
    }

    /// Runs `job` at once on an idle or new connection, or queues it (as waiter `id`, if given).
    private func enqueue(_ job: Job, id: Int?, honouringCancellation: Bool) {
        let now = NIODeadline.now()
        let admission: Admission = self.state.withLock { state in
            // Under the lock that the cancellation handler takes too: a cancellation either finds
            // the waiter queued, or is seen here.
            if honouringCancellation && Task.isCancelled { return .refused(CancellationError()) }
            return state.admit(job, id: id, now: now)
        }
        switch admission {
        case .run(let lease): self.dispatch(job, on: lease)
        case .open: self.open(for: job)
        case .queued(let deadline): if let deadline { self.armTimer(at: deadline) }
        case .refused(let error): job.fail(error)
        }
    }

    /// Runs `job` and whatever queues behind it on `lease`, on a pool thread.
    private func dispatch(_ job: Job, on lease: Lease) {
        self.threadPool.submit { threadState in
            // Refused (shutting down): the lease is dropped here, which closes its connection.
            guard threadState == .active else { return self.abandon(job) }
            self.runJobs(starting: job, on: lease)
        }
    }

    /// On a pool thread: runs `first`, then each job queued behind it, on one connection, until
    /// the queue has nothing this connection may take (it goes idle) or the connection breaks.
    private func runJobs(starting first: Job, on lease: Lease) {
        var job = first
        while true {
            switch job.work {
            case .call(let call):
                call(.success(lease.connection))
            case .query(let query):
                let behind = self.state.withLock { $0.takeQueuedReads(upTo: Self.maxBatch - 1) }
                self.runBatch([query] + behind, on: lease.connection)
            }
            guard let next = self.next(after: job, on: lease) else { return }
            job = next
        }
    }

    private func runBatch(_ queries: [Query], on connection: any DatabaseConnection) {
        connection.run(
            queries.map { query in
                DatabaseQuery(query.sql, query.parameters, eachRow: query.eachRow) { result in
                    query.use?.note(connection.localAddress)
                    query.done(result)
                }
            }
        )
    }

    /// After `finished` ran on `lease`: the next job for the same connection, or nil when the
    /// connection went idle, was closed with the pool, or broke (its slot then serves the next
    /// job with a fresh connection).
    private func next(after finished: Job, on lease: Lease) -> Job? {
        if lease.connection.isBroken {
            self.connectionLost(whileRunning: finished)
            return nil
        }
        let (next, started) = self.state.withLock { $0.next(after: finished, on: lease) }
        for (job, idle) in started { self.dispatch(job, on: idle) }
        return next
    }

    /// The thread pool refused work (it is shutting down): `job` fails and gives up its slot.
    private func abandon(_ job: Job) {
        self.state.withLock { $0.giveUp(job) }
        job.fail(Self.closedError)
    }

    /// Opens a connection on the thread pool and runs `job` on it; the slot is already counted.
    private func open(for job: Job) {
        let factory = self.factory
        self.threadPool.submit { threadState in
            guard threadState == .active else { return self.abandon(job) }
            let lease: Lease
            do {
                lease = Lease(try factory())
            } catch {
                self.connectionLost(whileRunning: job)
                return job.fail(error)
            }
            self.runJobs(starting: job, on: lease)
        }
    }

    /// A connection is gone (broken, or failed to open) while running `job`: its slot goes to the
    /// oldest waiting job that may run, which gets a fresh connection.
    private func connectionLost(whileRunning job: Job) {
        if let next = self.state.withLock({ $0.lost(whileRunning: job) }) { self.open(for: next) }
    }

    /// One timer, set for the oldest waiter, fails every waiter whose time is up and is set again
    /// for the next (``State/expire(at:)``).
    private func armTimer(at deadline: NIODeadline) {
        self.eventLoop.scheduleTask(deadline: deadline) { self.expireWaiters() }
    }

    private func expireWaiters() {
        let (expired, next) = self.state.withLock { $0.expire(at: .now()) }
        for waiter in expired { waiter.job.fail(self.exhausted) }
        if let next { self.armTimer(at: next) }
    }
}

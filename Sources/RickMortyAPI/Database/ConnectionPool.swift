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
    /// A queued call: runs on a pool thread with a connection, or is told why it cannot.
    private typealias Call = @Sendable (Result<any DatabaseConnection, any Error>) -> Void

    /// An open connection. Only the thread running a call, or the idle list under the lock, holds
    /// one, which is what makes sending it between threads safe.
    private final class Lease: @unchecked Sendable {
        let connection: any DatabaseConnection
        init(_ connection: any DatabaseConnection) { self.connection = connection }
    }

    /// A request read given as SQL, so that queued reads can share one round trip.
    private struct Query: Sendable {
        let sql: String
        let parameters: [DatabaseValue]
        let eachRow: @Sendable (DatabaseRow) throws -> Void
        let use: DatabaseUse?
        let done: @Sendable (Result<Void, any Error>) -> Void
    }

    private enum Work: Sendable {
        case call(Call)
        case query(Query)
    }

    private struct Job: Sendable {
        let work: Work
        /// A request read, counted against `readParallelism`.
        var isRead: Bool {
            if case .query = self.work { return true }
            return false
        }

        /// Tells the job why it cannot run.
        func fail(_ error: any Error) {
            switch self.work {
            case .call(let call): call(.failure(error))
            case .query(let query): query.done(.failure(error))
            }
        }
    }

    /// The most queued reads sent down one connection together.
    private static let maxBatch = 16

    private struct Waiter {
        let id: Int
        let deadline: NIODeadline
        let job: Job
    }

    private struct State {
        var idle: [Lease] = []
        var open = 0
        /// Connections running a read now.
        var reading = 0
        var nextID = 0
        var waiters = CircularBuffer<Waiter>()
        /// True while a timer is scheduled for the oldest waiter's deadline.
        var timerArmed = false
        var closed = false
    }

    /// What a new call does once the lock is released.
    private enum Admission {
        case run(Lease)
        case open
        case queued(armTimerAt: NIODeadline?)
        case refused(any Error)
    }

    private let factory: @Sendable () throws -> any DatabaseConnection
    private let threadPool: NIOThreadPool
    private let eventLoop: any EventLoop
    private let capacity: Int
    private let readParallelism: Int
    private let acquireTimeout: Duration
    private let state = Mutex(State())

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
        self.capacity = capacity
        self.readParallelism = max(1, min(readParallelism ?? capacity, capacity))
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
        self.enqueue(Job(work: .query(query)), id: self.nextID(), honouringCancellation: false)
        return promise.futureResult
    }

    /// Runs `body` with a connection on the thread pool. A task cancelled while its call still
    /// waits for a connection stops waiting (`CancellationError`); a call already running finishes.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) throws -> T) async throws -> T
    {
        let id = self.nextID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let call: Call = { result in
                    continuation.resume(with: result.flatMap { connection in Result { try body(connection) } })
                }
                self.enqueue(Job(work: .call(call)), id: id, honouringCancellation: true)
            }
        } onCancel: {
            self.removeWaiter(id)?.job.fail(CancellationError())
        }
    }

    /// Calls waiting for a connection (for tests and debugging).
    var waitingCount: Int { self.state.withLock { $0.waiters.count } }

    /// Closes the pool: idle connections are closed now (each frees its handle when released),
    /// connections in use when their call returns, and waiting and later calls get `serverShutdown`.
    func close() {
        var idle: [Lease] = []
        let waiters = self.state.withLock { state in
            state.closed = true
            state.open -= state.idle.count
            swap(&idle, &state.idle)
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        // The last references to the idle connections, dropped outside the lock: this closes them.
        idle.removeAll()
        for waiter in waiters { waiter.job.fail(Self.closedError) }
    }

    private static var closedError: DatabaseError {
        DatabaseError(kind: .serverShutdown, message: "the connection pool is closed (shutting down)")
    }

    private var exhausted: DatabaseError {
        DatabaseError(kind: .poolExhausted, message: "no free database connection within \(self.acquireTimeout)")
    }

    private func nextID() -> Int {
        self.state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
    }

    /// Runs `job` at once on an idle or new connection, or queues it.
    private func enqueue(_ job: Job, id: Int, honouringCancellation: Bool) {
        let admission: Admission = self.state.withLock { state in
            if state.closed { return .refused(Self.closedError) }
            // Under the lock that the cancellation handler takes too: a cancellation either finds
            // the waiter queued, or is seen here.
            if honouringCancellation && Task.isCancelled { return .refused(CancellationError()) }
            if !job.isRead || state.reading < self.readParallelism {
                if let lease = state.idle.popLast() {
                    if job.isRead { state.reading += 1 }
                    return .run(lease)
                }
                if state.open < self.capacity {
                    state.open += 1
                    if job.isRead { state.reading += 1 }
                    return .open
                }
            }
            let deadline = NIODeadline.now() + .nanoseconds(Int64(self.acquireTimeout.seconds * 1e9))
            state.waiters.append(Waiter(id: id, deadline: deadline, job: job))
            if state.timerArmed { return .queued(armTimerAt: nil) }
            state.timerArmed = true
            return .queued(armTimerAt: deadline)
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
            guard threadState == .active else { return self.abandon(lease, job) }
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
                self.runBatch([query] + self.takeQueuedReads(), on: lease.connection)
            }
            guard let next = self.next(after: job, on: lease) else { return }
            job = next
        }
    }

    /// Reads queued right behind the one starting, to go with it; they share its connection and
    /// its read slot.
    private func takeQueuedReads() -> [Query] {
        self.state.withLock { state in
            var taken: [Query] = []
            while taken.count < Self.maxBatch - 1, let head = state.waiters.first,
                case .query(let query) = head.job.work
            {
                state.waiters.removeFirst()
                taken.append(query)
            }
            return taken
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

    /// After `finished` ran on `lease`: the next queued job, to run on the same connection; or nil
    /// when the connection went idle, was closed with the pool, or broke (its slot then serves
    /// the next job with a fresh connection).
    private func next(after finished: Job, on lease: Lease) -> Job? {
        if lease.connection.isBroken {
            if finished.isRead { self.state.withLock { $0.reading -= 1 } }
            self.connectionClosed()
            return nil
        }
        let (next, freed) = self.state.withLock { state -> (Job?, [(Job, Lease)]) in
            if finished.isRead { state.reading -= 1 }
            if state.closed {
                state.open -= 1
                return (nil, [])  // The caller's reference is the last: the connection closes when it returns.
            }
            guard let next = self.takeRunnable(&state) else {
                state.idle.append(lease)
                return (nil, [])
            }
            // A read slot this connection gave up for background work goes to an idle connection.
            return (next, finished.isRead && !next.isRead ? Self.startQueuedReads(&state, self.readParallelism) : [])
        }
        for (job, idle) in freed { self.dispatch(job, on: idle) }
        return next
    }

    /// The oldest queued job that may run now (a read only while a read slot is free), taken out
    /// of the queue and counted.
    private func takeRunnable(_ state: inout State) -> Job? {
        let readsAllowed = state.reading < self.readParallelism
        guard let index = state.waiters.firstIndex(where: { readsAllowed || !$0.job.isRead }) else { return nil }
        let job = state.waiters.remove(at: index).job
        if job.isRead { state.reading += 1 }
        return job
    }

    /// Queued reads that may start now on idle connections, taken out of the queue. Reads queue
    /// only for want of a read slot (anything queues for want of a connection, when none is idle).
    private static func startQueuedReads(_ state: inout State, _ limit: Int) -> [(Job, Lease)] {
        var started: [(Job, Lease)] = []
        while state.reading < limit, let head = state.waiters.first, head.job.isRead, let lease = state.idle.popLast() {
            state.waiters.removeFirst()
            state.reading += 1
            started.append((head.job, lease))
        }
        return started
    }

    /// The thread pool refused work (it is shutting down): `job` fails and `lease` is dropped.
    private func abandon(_ lease: Lease, _ job: Job) {
        self.state.withLock { state in
            state.open -= 1
            if job.isRead { state.reading -= 1 }
        }
        job.fail(Self.closedError)
    }

    /// Opens a connection on the thread pool and runs `job` on it; the slot is already counted.
    private func open(for job: Job) {
        let factory = self.factory
        self.threadPool.submit { threadState in
            guard threadState == .active else {
                self.state.withLock { state in
                    state.open -= 1
                    if job.isRead { state.reading -= 1 }
                }
                return job.fail(Self.closedError)
            }
            let lease: Lease
            do {
                lease = Lease(try factory())
            } catch {
                if job.isRead { self.state.withLock { $0.reading -= 1 } }
                self.connectionClosed()
                return job.fail(error)
            }
            self.runJobs(starting: job, on: lease)
        }
    }

    /// A connection is gone (broken, or failed to open): its slot goes to the oldest waiting job
    /// that may run, which gets a fresh connection.
    private func connectionClosed() {
        let job: Job? = self.state.withLock { state in
            guard !state.closed, let job = self.takeRunnable(&state) else {
                state.open -= 1
                return nil
            }
            return job
        }
        if let job { self.open(for: job) }
    }

    /// Takes waiter `id` out of the queue, if it is still there.
    private func removeWaiter(_ id: Int) -> Waiter? {
        self.state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
    }

    /// Waiters queue in arrival order with the same timeout, so deadlines only grow: one timer, set
    /// for the oldest waiter, fails every waiter whose time is up and is set again for the next.
    private func armTimer(at deadline: NIODeadline) {
        self.eventLoop.scheduleTask(deadline: deadline) { self.expireWaiters() }
    }

    private func expireWaiters() {
        let now = NIODeadline.now()
        let (expired, next) = self.state.withLock { state -> ([Waiter], NIODeadline?) in
            var expired: [Waiter] = []
            while let oldest = state.waiters.first, oldest.deadline <= now {
                expired.append(state.waiters.removeFirst())
            }
            guard let oldest = state.waiters.first else {
                state.timerArmed = false
                return (expired, nil)
            }
            return (expired, oldest.deadline)
        }
        for waiter in expired { waiter.job.fail(self.exhausted) }
        if let next { self.armTimer(at: next) }
    }
}

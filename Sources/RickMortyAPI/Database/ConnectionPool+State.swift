import NIOCore
import Native

extension ConnectionPool {
    /// A queued call: runs on a pool thread with a connection, or is told why it cannot.
    typealias Call = @Sendable (Result<any DatabaseConnection, any Error>) -> Void

    /// An open connection. Only the thread running a call, or the idle list under the lock, holds
    /// one, which is what makes sending it between threads safe.
    final class Lease: @unchecked Sendable {
        let connection: any DatabaseConnection
        init(_ connection: any DatabaseConnection) { self.connection = connection }
    }

    /// A request read given as SQL, so that queued reads can share one round trip.
    struct Query: Sendable {
        let sql: String
        let parameters: [DatabaseValue]
        let eachRow: @Sendable (DatabaseRow) throws -> Void
        let use: DatabaseUse?
        let done: @Sendable (Result<Void, any Error>) -> Void
    }

    enum Work: Sendable {
        case call(Call)
        case query(Query)
    }

    struct Job: Sendable {
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

    struct Waiter {
        let id: Int
        let deadline: NIODeadline
        let job: Job
    }

    /// What a new job does once the lock is released.
    enum Admission {
        case run(Lease)
        case open
        case queued(armTimerAt: NIODeadline?)
        case refused(any Error)
    }

    /// The pool's bookkeeping, kept under its lock: the idle connections, the counts and the
    /// queue. Its methods only decide; ``ConnectionPool`` does the opening, running and failing
    /// they ask for.
    struct State {
        let capacity: Int
        let readParallelism: Int
        let acquireTimeout: TimeAmount
        var idle: [Lease] = []
        var open = 0
        /// Connections running a read now.
        var reading = 0
        var nextID = 0
        var waiters = CircularBuffer<Waiter>()
        /// True while a timer is scheduled for the oldest waiter's deadline.
        var timerArmed = false
        var closed = false

        mutating func newID() -> Int {
            defer { self.nextID += 1 }
            return self.nextID
        }

        /// Gives `job` an idle connection or a new one's slot, or queues it (as waiter `id`, or a
        /// new id) until `now` plus the acquire timeout.
        mutating func admit(_ job: Job, id: Int?, now: NIODeadline) -> Admission {
            if self.closed { return .refused(ConnectionPool.closedError) }
            if !job.isRead || self.reading < self.readParallelism {
                if let lease = self.idle.popLast() {
                    if job.isRead { self.reading += 1 }
                    return .run(lease)
                }
                if self.open < self.capacity {
                    self.open += 1
                    if job.isRead { self.reading += 1 }
                    return .open
                }
            }
            let deadline = now + self.acquireTimeout
            self.waiters.append(Waiter(id: id ?? self.newID(), deadline: deadline, job: job))
            if self.timerArmed { return .queued(armTimerAt: nil) }
            self.timerArmed = true
            return .queued(armTimerAt: deadline)
        }

        /// After `finished` ran on `lease` (not broken): the next job for the same connection, and
        /// queued reads that may start on idle connections now. With neither, the connection goes
        /// idle; once the pool is closed, it is dropped.
        mutating func next(after finished: Job, on lease: Lease) -> (next: Job?, started: [(Job, Lease)]) {
            if finished.isRead { self.reading -= 1 }
            if self.closed {
                self.open -= 1
                return (nil, [])
            }
            guard let next = self.takeRunnable() else {
                self.idle.append(lease)
                return (nil, [])
            }
            // A read slot this connection gave up for background work goes to an idle connection.
            return (next, finished.isRead && !next.isRead ? self.startQueuedReads() : [])
        }

        /// The oldest queued job that may run now (a read only while a read slot is free), taken
        /// out of the queue and counted.
        mutating func takeRunnable() -> Job? {
            let readsAllowed = self.reading < self.readParallelism
            guard let index = self.waiters.firstIndex(where: { readsAllowed || !$0.job.isRead }) else { return nil }
            let job = self.waiters.remove(at: index).job
            if job.isRead { self.reading += 1 }
            return job
        }

        /// Queued reads that may start now on idle connections, taken out of the queue. Reads
        /// queue only for want of a read slot when a connection is idle (anything queues for want
        /// of a connection, when none is).
        private mutating func startQueuedReads() -> [(Job, Lease)] {
            var started: [(Job, Lease)] = []
            while self.reading < self.readParallelism, let head = self.waiters.first, head.job.isRead,
                let lease = self.idle.popLast()
            {
                self.waiters.removeFirst()
                self.reading += 1
                started.append((head.job, lease))
            }
            return started
        }

        /// Up to `count` reads queued right behind one that is starting, to go with it: they
        /// share its connection and its read slot.
        mutating func takeQueuedReads(upTo count: Int) -> [Query] {
            var taken: [Query] = []
            while taken.count < count, let head = self.waiters.first, case .query(let query) = head.job.work {
                self.waiters.removeFirst()
                taken.append(query)
            }
            return taken
        }

        /// A connection went away (broken, not opened, or its thread pool refused work) while
        /// running `job`: its slot goes to the oldest job that may run, returned to open a new
        /// connection for, or is given up.
        mutating func lost(whileRunning job: Job) -> Job? {
            if job.isRead { self.reading -= 1 }
            guard !self.closed, let next = self.takeRunnable() else {
                self.open -= 1
                return nil
            }
            return next
        }

        /// `job` will not run (its thread pool is shutting down): its slot is given up.
        mutating func giveUp(_ job: Job) {
            self.open -= 1
            if job.isRead { self.reading -= 1 }
        }

        /// Closed from now on: the idle connections and the waiters, taken out to be closed and
        /// failed; connections in use are dropped as their jobs finish (``next(after:on:)``).
        mutating func close() -> (idle: [Lease], waiters: CircularBuffer<Waiter>) {
            self.closed = true
            self.open -= self.idle.count
            defer {
                self.idle.removeAll()
                self.waiters.removeAll()
            }
            return (self.idle, self.waiters)
        }

        mutating func removeWaiter(_ id: Int) -> Waiter? {
            guard let index = self.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return self.waiters.remove(at: index)
        }

        /// The waiters whose time is up at `now`, and the deadline to set the timer for next (nil:
        /// the queue is empty and the timer is no longer armed). Waiters queue in arrival order
        /// with the same timeout, so deadlines only grow.
        mutating func expire(at now: NIODeadline) -> (expired: [Waiter], next: NIODeadline?) {
            var expired: [Waiter] = []
            while let oldest = self.waiters.first, oldest.deadline <= now { expired.append(self.waiters.removeFirst()) }
            guard let oldest = self.waiters.first else {
                self.timerArmed = false
                return (expired, nil)
            }
            return (expired, oldest.deadline)
        }
    }
}

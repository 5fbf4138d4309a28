import Dispatch
import NIOCore
import NIOPosix
import Native
import Synchronization
import Testing

@testable import RickMortyAPI

#if canImport(Glibc)
import Glibc
#endif

/// Counts the connections that are still open: each one closes (is freed) when the pool lets go.
final class CountedConnections: Sendable {
    let open = Atomic<Int>(0)
    /// The size of each batch of reads a connection was given, in order.
    let batches = Mutex<[Int]>([])

    final class Connection: DatabaseConnection {
        let owner: CountedConnections
        init(_ owner: CountedConnections) {
            self.owner = owner
            owner.open.add(1, ordering: .relaxed)
        }
        deinit { self.owner.open.subtract(1, ordering: .relaxed) }
        func execute(_ sql: String) throws {}
        func query(_ sql: String, _ parameters: [DatabaseValue], eachRow: (DatabaseRow) throws -> Void) throws {}
        func run(_ queries: [DatabaseQuery]) {
            self.owner.batches.withLock { $0.append(queries.count) }
            for query in queries { query.done(.success(())) }
        }
        var isBroken: Bool { false }
        var localAddress: String? { nil }
    }
}

/// A call the test holds on its connection until it lets go; `running` says it has started.
final class HeldCall: Sendable {
    private let gate = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)
    var running: Bool { self.started.load(ordering: .relaxed) }

    func body() {
        self.started.store(true, ordering: .relaxed)
        self.gate.wait()
    }
    func letGo() { self.gate.signal() }
}

@Suite("Connection pool: queueing, cancellation, timeout and close")
struct ConnectionPoolTests {
    private func withPool(
        capacity: Int,
        readParallelism: Int? = nil,
        acquireTimeout: Duration = .seconds(600),
        _ body: (ConnectionPool, CountedConnections) async throws -> Void
    ) async throws {
        let threadPool = NIOThreadPool(numberOfThreads: capacity + 1)
        threadPool.start()
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let counted = CountedConnections()
        let pool = ConnectionPool(
            capacity: capacity,
            readParallelism: readParallelism,
            acquireTimeout: acquireTimeout,
            threadPool: threadPool,
            eventLoop: loops.next()
        ) {
            CountedConnections.Connection(counted)
        }
        try await body(pool, counted)
        try await threadPool.shutdownGracefully()
        try await loops.shutdownGracefully()
    }

    /// Waits until `condition` holds, for at most ten seconds.
    private func until(_ condition: () -> Bool) async {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(1)) }
    }

    /// Holds the pool's only connection with a call of the test's, started and running.
    private func hold(_ pool: ConnectionPool) async -> (HeldCall, Task<Void, any Error>) {
        let held = HeldCall()
        let task = Task { try await pool.withConnection { _ in held.body() } }
        await self.until { held.running }
        return (held, task)
    }

    /// A read of nothing whose result is `finish`'s.
    private func read<T: Sendable>(
        _ pool: ConnectionPool,
        _ finish: @escaping @Sendable () throws -> T
    ) -> EventLoopFuture<T> {
        pool.read("SELECT 1", [], on: MultiThreadedEventLoopGroup.singleton.next(), eachRow: { _ in }, finish: finish)
    }

    @Test("reads queued behind a busy connection go to it together, in order, on the thread that frees it")
    func backToBack() async throws {
        try await self.withPool(capacity: 1) { pool, counted in
            let (held, holder) = await self.hold(pool)
            let threads = Mutex<[UInt]>([])
            let order = Mutex<[Int]>([])
            let calls = (0..<3).map { index in
                self.read(pool) {
                    threads.withLock { $0.append(UInt(pthread_self())) }
                    order.withLock { $0.append(index) }
                }
            }
            #expect(pool.waitingCount == 3)
            held.letGo()
            try await holder.value
            for call in calls { try await call.get() }
            #expect(order.withLock { $0 } == [0, 1, 2])
            #expect(Set(threads.withLock { $0 }).count == 1, "one thread ran all three")
            #expect(counted.batches.withLock { $0 } == [3], "in one batch")
            #expect(counted.open.load(ordering: .relaxed) == 1, "on one connection")
        }
    }

    @Test("request reads run on at most readParallelism connections; background work runs beside them")
    func readParallelism() async throws {
        try await self.withPool(capacity: 3, readParallelism: 1) { pool, counted in
            let held = HeldCall()
            let firstRead = self.read(pool) { held.body() }
            await self.until { held.running }
            let secondRead = self.read(pool) { 2 }
            #expect(pool.waitingCount == 1, "queued although two more connections could open")
            #expect(try await pool.withConnection { _ in 3 } == 3, "background work is not held up by reads")
            #expect(pool.waitingCount == 1)
            held.letGo()
            try await firstRead.get()
            #expect(try await secondRead.get() == 2)
            #expect(counted.open.load(ordering: .relaxed) == 2, "the read never needed a second connection")
        }
    }

    @Test("a call waiting for a connection stops waiting when its task is cancelled")
    func cancelledWaiter() async throws {
        try await self.withPool(capacity: 1) { pool, _ in
            let (held, holder) = await self.hold(pool)
            let waiting = Task { try await pool.withConnection { _ in 1 } }
            await self.until { pool.waitingCount == 1 }
            waiting.cancel()
            // With a 600 s acquire timeout, only the cancellation can end this wait.
            await #expect(throws: CancellationError.self) { _ = try await waiting.value }
            #expect(pool.waitingCount == 0)
            held.letGo()
            try await holder.value
            #expect(try await pool.withConnection { _ in 2 } == 2)
        }
    }

    @Test("waiting calls fail with pool_exhausted at their own deadline, oldest first")
    func exhausted() async throws {
        try await self.withPool(capacity: 1, acquireTimeout: .milliseconds(200)) { pool, _ in
            let (held, holder) = await self.hold(pool)
            let first = self.read(pool) { 1 }
            let queued = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(100))  // the second call queues 100 ms later
            let second = self.read(pool) { 2 }
            func kind(_ future: EventLoopFuture<Int>) async -> DatabaseError.Kind? {
                do {
                    _ = try await future.get()
                    return nil
                } catch {
                    return (error as? DatabaseError)?.kind
                }
            }
            #expect(await kind(first) == .poolExhausted)
            let firstFailed = ContinuousClock.now - queued
            #expect(await kind(second) == .poolExhausted)
            let secondFailed = ContinuousClock.now - queued
            #expect(firstFailed >= .milliseconds(200))
            #expect(secondFailed >= .milliseconds(300), "the timer was set again for the second call's deadline")
            held.letGo()
            try await holder.value
        }
    }

    @Test("close frees idle connections now and busy ones when their call returns; later calls get a 503 kind")
    func close() async throws {
        try await self.withPool(capacity: 2) { pool, counted in
            let (held, holder) = await self.hold(pool)
            try await pool.withConnection { _ in }  // opens the second connection, which goes idle
            #expect(counted.open.load(ordering: .relaxed) == 2)
            pool.close()
            #expect(counted.open.load(ordering: .relaxed) == 1, "the idle one is closed")
            held.letGo()
            try await holder.value
            await self.until { counted.open.load(ordering: .relaxed) == 0 }
            #expect(counted.open.load(ordering: .relaxed) == 0, "the busy one is closed when its call returns")
            await #expect {
                try await pool.withConnection { _ in }
            } throws: { error in
                (error as? DatabaseError)?.kind == .serverShutdown && (error as? DatabaseError)?.isTransient == true
            }
        }
    }
}

@Suite("Connection pool bookkeeping, without threads")
struct ConnectionPoolStateTests {
    private func read() -> ConnectionPool.Job {
        ConnectionPool.Job(
            work: .query(.init(sql: "", parameters: [], eachRow: { _ in }, use: nil, done: { _ in }))
        )
    }
    private func background() -> ConnectionPool.Job { ConnectionPool.Job(work: .call({ _ in })) }

    @Test("a read beyond readParallelism queues although a connection could open; background work opens one")
    func admission() {
        var state = ConnectionPool.State(capacity: 2, readParallelism: 1, acquireTimeout: .seconds(5))
        let now = NIODeadline.now()
        guard case .open = state.admit(self.read(), id: nil, now: now) else {
            Issue.record("first read opens")
            return
        }
        guard case .queued(let deadline) = state.admit(self.read(), id: nil, now: now) else {
            Issue.record("second read queues")
            return
        }
        #expect(deadline == now + .seconds(5), "the first waiter arms the timer")
        guard case .open = state.admit(self.background(), id: nil, now: now) else {
            Issue.record("background work opens the second connection")
            return
        }
        #expect(state.open == 2 && state.reading == 1 && state.waiters.count == 1)

        // The first read ends: its connection takes the queued read, and the slot stays counted.
        let lease = ConnectionPool.Lease(CountedConnections.Connection(CountedConnections()))
        let (next, started) = state.next(after: self.read(), on: lease)
        #expect(next?.isRead == true && started.isEmpty && state.reading == 1 && state.waiters.isEmpty)

        let (expired, again) = state.expire(at: now + .seconds(6))
        #expect(expired.isEmpty && again == nil && !state.timerArmed, "nothing left to expire; the timer is off")
    }
}

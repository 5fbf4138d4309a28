import NIOCore
import NIOPosix
import Native
import Synchronization

/// A fixed-size pool of blocking database connections.
///
/// Connections open lazily, run their work on an `NIOThreadPool` (never on the cooperative pool),
/// and are discarded when they report themselves broken, so the pool reconnects by itself once the
/// database is back. A caller waits at most `acquireTimeout` for a free connection; the wait is a
/// continuation plus one timer on an event loop, so a queue of waiters costs little.
final class ConnectionPool: Sendable {
    /// A connection handed to one task. The pool guarantees that no two tasks hold the same lease,
    /// which is what makes sending it between threads safe.
    final class Lease: @unchecked Sendable {
        fileprivate let connection: any DatabaseConnection
        fileprivate init(_ connection: any DatabaseConnection) { self.connection = connection }
    }

    private struct Waiter {
        let id: Int
        let continuation: CheckedContinuation<Lease, any Error>
        var timer: Scheduled<Void>?
    }

    private struct State {
        var idle: [Lease] = []
        var open = 0
        var nextWaiter = 0
        var waiters: [Waiter] = []
        var closed = false
    }

    private enum Acquisition {
        case ready(Lease)
        case open
        case wait
        case refused(any Error)
    }

    private let factory: @Sendable () throws -> any DatabaseConnection
    private let threadPool: NIOThreadPool
    private let eventLoop: any EventLoop
    private let capacity: Int
    private let acquireTimeout: Duration
    private let state = Mutex(State())

    /// - Parameters:
    ///   - capacity: the most connections open at once.
    ///   - acquireTimeout: how long a caller waits for a free connection before `poolExhausted`.
    ///   - factory: opens one connection; it blocks, and runs on the thread pool.
    init(
        capacity: Int,
        acquireTimeout: Duration,
        threadPool: NIOThreadPool,
        eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any(),
        factory: @escaping @Sendable () throws -> any DatabaseConnection
    ) {
        self.capacity = capacity
        self.acquireTimeout = acquireTimeout
        self.threadPool = threadPool
        self.eventLoop = eventLoop
        self.factory = factory
    }

    /// Runs `body` with a connection on the thread pool and returns the connection afterwards.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) throws -> T) async throws -> T
    {
        let lease = try await self.acquire()
        defer { self.release(lease) }
        return try await self.run(on: lease, body)
    }

    /// Runs `body` with a leased connection on the thread pool.
    func run<T: Sendable>(
        on lease: Lease,
        _ body: @escaping @Sendable (any DatabaseConnection) throws -> T
    ) async throws -> T {
        DatabaseUse.note(lease.connection.localAddress)
        return try await self.threadPool.runIfActive { try body(lease.connection) }
    }

    /// Takes a connection for a sequence of calls; hand it back with ``release(_:)``. Throws
    /// `poolExhausted` after `acquireTimeout`, `CancellationError` when the waiting task is
    /// cancelled, and `serverShutdown` once the pool is closed.
    func acquire() async throws -> Lease {
        let id = self.state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // Decided under the lock that onCancel takes too: a cancellation either finds the
                // waiter queued, or is seen here.
                let next: Acquisition = self.state.withLock { state in
                    if state.closed { return .refused(Self.closedError) }
                    if Task.isCancelled { return .refused(CancellationError()) }
                    if let lease = state.idle.popLast() { return .ready(lease) }
                    if state.open < self.capacity {
                        state.open += 1
                        return .open
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation, timer: nil))
                    return .wait
                }
                switch next {
                case .ready(let lease):
                    continuation.resume(returning: lease)
                case .open:
                    self.open(for: continuation)
                case .refused(let error):
                    continuation.resume(throwing: error)
                case .wait:
                    let timer = self.eventLoop.scheduleTask(in: .nanoseconds(Int64(self.acquireTimeout.seconds * 1e9)))
                    {
                        if let waiter = self.removeWaiter(id) { waiter.continuation.resume(throwing: self.exhausted) }
                    }
                    let stillWaiting = self.state.withLock { state in
                        guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return false }
                        state.waiters[index].timer = timer
                        return true
                    }
                    if !stillWaiting { timer.cancel() }
                }
            }
        } onCancel: {
            guard let waiter = self.removeWaiter(id) else { return }
            waiter.timer?.cancel()
            waiter.continuation.resume(throwing: CancellationError())
        }
    }

    /// Closes the pool: idle connections are closed now (each frees its handle when released),
    /// connections in use when they come back, and waiters and later callers get `serverShutdown`.
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
        for waiter in waiters {
            waiter.timer?.cancel()
            waiter.continuation.resume(throwing: Self.closedError)
        }
    }

    private static var closedError: DatabaseError {
        DatabaseError(kind: .serverShutdown, message: "the connection pool is closed (shutting down)")
    }

    /// Returns a connection: to the longest waiter, to the idle list, or (when broken) to nowhere.
    func release(_ lease: Lease) {
        if lease.connection.isBroken {
            self.connectionClosed()
            return
        }
        let waiter: Waiter? = self.state.withLock { state in
            if state.closed {
                state.open -= 1
                return nil  // The lease is dropped here, which closes its connection.
            }
            guard !state.waiters.isEmpty else {
                state.idle.append(lease)
                return nil
            }
            return state.waiters.removeFirst()
        }
        guard let waiter else { return }
        waiter.timer?.cancel()
        waiter.continuation.resume(returning: lease)
    }

    /// Opens a connection on the thread pool for `continuation`, whose slot is already counted.
    private func open(for continuation: CheckedContinuation<Lease, any Error>) {
        let factory = self.factory
        self.threadPool.submit { _ in
            do {
                continuation.resume(returning: Lease(try factory()))
            } catch {
                self.connectionClosed()
                continuation.resume(throwing: error)
            }
        }
    }

    /// A connection is gone (broken, or failed to open): its slot goes to the longest waiter,
    /// who gets a fresh connection.
    private func connectionClosed() {
        let waiter: Waiter? = self.state.withLock { state in
            guard !state.waiters.isEmpty else {
                state.open -= 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        guard let waiter else { return }
        waiter.timer?.cancel()
        self.open(for: waiter.continuation)
    }

    /// Takes waiter `id` out of the queue, if it is still there.
    private func removeWaiter(_ id: Int) -> Waiter? {
        self.state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
    }

    private var exhausted: DatabaseError {
        DatabaseError(kind: .poolExhausted, message: "no free database connection within \(self.acquireTimeout)")
    }
}

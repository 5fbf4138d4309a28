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
    }

    private enum Acquisition {
        case ready(Lease)
        case open
        case wait(Int)
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
        try await self.threadPool.runIfActive { try body(lease.connection) }
    }

    /// Takes a connection for a sequence of calls; hand it back with ``release(_:)``.
    func acquire() async throws -> Lease {
        try await withCheckedThrowingContinuation { continuation in
            let next: Acquisition = self.state.withLock { state in
                if let lease = state.idle.popLast() { return .ready(lease) }
                if state.open < self.capacity {
                    state.open += 1
                    return .open
                }
                let id = state.nextWaiter
                state.nextWaiter += 1
                state.waiters.append(Waiter(id: id, continuation: continuation, timer: nil))
                return .wait(id)
            }
            switch next {
            case .ready(let lease):
                continuation.resume(returning: lease)
            case .open:
                self.open(for: continuation)
            case .wait(let id):
                let timer = self.eventLoop.scheduleTask(in: .nanoseconds(Int64(self.acquireTimeout.seconds * 1e9))) {
                    self.expire(id)
                }
                let stillWaiting = self.state.withLock { state in
                    guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return false }
                    state.waiters[index].timer = timer
                    return true
                }
                if !stillWaiting { timer.cancel() }
            }
        }
    }

    /// Returns a connection: to the longest waiter, to the idle list, or (when broken) to nowhere.
    func release(_ lease: Lease) {
        if lease.connection.isBroken {
            self.connectionClosed()
            return
        }
        let waiter: Waiter? = self.state.withLock { state in
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

    private func expire(_ id: Int) {
        let waiter: Waiter? = self.state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: self.exhausted)
    }

    private var exhausted: DatabaseError {
        DatabaseError(kind: .poolExhausted, message: "no free database connection within \(self.acquireTimeout)")
    }
}

import NIOPosix
import Native
import Synchronization

/// A fixed-size pool of blocking database connections.
///
/// Connections open lazily, run their work on an `NIOThreadPool` (never on the cooperative pool),
/// and are discarded when they report themselves broken, so the pool reconnects by itself once the
/// database is back. A caller waits at most `acquireTimeout` for a free connection.
final class ConnectionPool: Sendable {
    /// A connection handed to one task. The pool guarantees that no two tasks hold the same lease,
    /// which is what makes sending it between threads safe.
    final class Lease: @unchecked Sendable {
        fileprivate let connection: any DatabaseConnection
        fileprivate init(_ connection: any DatabaseConnection) { self.connection = connection }
    }

    private enum Slot {
        case unregistered
        case waiting(CheckedContinuation<Lease, any Error>)
        case served(Lease)
        case timedOut
    }

    private struct State {
        var idle: [Lease] = []
        var open = 0
        var nextWaiter = 0
        var queue: [Int] = []
        var slots: [Int: Slot] = [:]
    }

    private enum Acquisition {
        case ready(Lease)
        case open
        case wait(Int)
    }

    private let factory: @Sendable () throws -> any DatabaseConnection
    private let threadPool: NIOThreadPool
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
        factory: @escaping @Sendable () throws -> any DatabaseConnection
    ) {
        self.capacity = capacity
        self.acquireTimeout = acquireTimeout
        self.threadPool = threadPool
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
        let next: Acquisition = self.state.withLock { state in
            if let lease = state.idle.popLast() { return .ready(lease) }
            if state.open < self.capacity {
                state.open += 1
                return .open
            }
            let id = state.nextWaiter
            state.nextWaiter += 1
            state.queue.append(id)
            state.slots[id] = .unregistered
            return .wait(id)
        }
        switch next {
        case .ready(let lease):
            return lease
        case .open:
            do {
                let factory = self.factory
                return try await self.threadPool.runIfActive { Lease(try factory()) }
            } catch {
                self.connectionClosed()
                throw error
            }
        case .wait(let id):
            return try await self.wait(id)
        }
    }

    /// Returns a connection: to a waiter, to the idle list, or (when broken) to nowhere.
    func release(_ lease: Lease) {
        if lease.connection.isBroken {
            self.connectionClosed()
            return
        }
        let resume: (CheckedContinuation<Lease, any Error>)? = self.state.withLock { state in
            while !state.queue.isEmpty {
                let id = state.queue.removeFirst()
                switch state.slots[id] {
                case .waiting(let continuation):
                    state.slots[id] = nil
                    return continuation
                case .unregistered:
                    state.slots[id] = .served(lease)
                    return nil
                case .served, .timedOut, .none:
                    continue
                }
            }
            state.idle.append(lease)
            return nil
        }
        resume?.resume(returning: lease)
    }

    /// A broken connection was dropped: its place may be taken by a waiter opening a fresh one.
    private func connectionClosed() {
        let waiter: (CheckedContinuation<Lease, any Error>)? = self.state.withLock { state in
            state.open -= 1
            while !state.queue.isEmpty {
                let id = state.queue.removeFirst()
                if case .waiting(let continuation) = state.slots[id] {
                    state.slots[id] = nil
                    state.open += 1
                    return continuation
                }
                if case .unregistered = state.slots[id] {
                    // Put it back: it will be served once it registers or times out.
                    state.queue.insert(id, at: 0)
                    return nil
                }
            }
            return nil
        }
        guard let waiter else { return }
        let factory = self.factory
        self.threadPool.submit { _ in
            do {
                waiter.resume(returning: Lease(try factory()))
            } catch {
                self.connectionClosed()
                waiter.resume(throwing: error)
            }
        }
    }

    private func wait(_ id: Int) async throws -> Lease {
        try await withThrowingTaskGroup(of: Lease?.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { continuation in
                    let outcome: Result<Lease, any Error>? = self.state.withLock { state in
                        switch state.slots[id] {
                        case .served(let lease):
                            state.slots[id] = nil
                            return .success(lease)
                        case .timedOut:
                            state.slots[id] = nil
                            return .failure(self.exhausted)
                        default:
                            state.slots[id] = .waiting(continuation)
                            return nil
                        }
                    }
                    if let outcome { continuation.resume(with: outcome) }
                }
            }
            group.addTask {
                do {
                    try await Task.sleep(for: self.acquireTimeout)
                } catch {
                    return nil
                }
                let waiting: CheckedContinuation<Lease, any Error>? = self.state.withLock { state in
                    switch state.slots[id] {
                    case .waiting(let continuation):
                        state.slots[id] = nil
                        return continuation
                    case .unregistered:
                        state.slots[id] = .timedOut
                        return nil
                    default:
                        return nil
                    }
                }
                waiting?.resume(throwing: self.exhausted)
                return nil
            }
            var lease: Lease?
            while let result = try await group.next() {
                if let result {
                    lease = result
                    group.cancelAll()
                }
            }
            guard let lease else { throw self.exhausted }
            return lease
        }
    }

    private var exhausted: DatabaseError {
        DatabaseError(kind: .poolExhausted, message: "no free database connection within \(self.acquireTimeout)")
    }
}

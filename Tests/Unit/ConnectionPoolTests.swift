import NIOPosix
import Native
import Synchronization
import Testing

@testable import RickMortyAPI

/// Counts the connections that are still open: each one closes (is freed) when the pool lets go.
final class CountedConnections: Sendable {
    let open = Atomic<Int>(0)

    final class Connection: DatabaseConnection {
        let owner: CountedConnections
        init(_ owner: CountedConnections) {
            self.owner = owner
            owner.open.add(1, ordering: .relaxed)
        }
        deinit { self.owner.open.subtract(1, ordering: .relaxed) }
        func execute(_ sql: String) throws {}
        func query(_ sql: String, _ parameters: [DatabaseValue]) throws -> [[DatabaseValue]] { [] }
        var isBroken: Bool { false }
        var localAddress: String? { nil }
    }
}

@Suite("Connection pool: cancellation and close")
struct ConnectionPoolTests {
    private func withPool(
        capacity: Int,
        _ body: (ConnectionPool, CountedConnections) async throws -> Void
    ) async throws {
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        defer { threadPool.shutdownGracefully { _ in } }
        let counted = CountedConnections()
        let pool = ConnectionPool(capacity: capacity, acquireTimeout: .seconds(600), threadPool: threadPool) {
            CountedConnections.Connection(counted)
        }
        try await body(pool, counted)
    }

    @Test("a caller waiting for a connection stops waiting when its task is cancelled")
    func cancelledWaiter() async throws {
        try await self.withPool(capacity: 1) { pool, _ in
            let held = try await pool.acquire()
            let waiting = Task { try await pool.acquire() }
            waiting.cancel()
            // With a 600 s acquire timeout, only the cancellation can end this wait.
            await #expect(throws: CancellationError.self) { _ = try await waiting.value }
            pool.release(held)
            let again = try await pool.acquire()
            pool.release(again)
        }
    }

    @Test("close frees idle connections now and busy ones when they come back; later callers get a 503 kind")
    func close() async throws {
        try await self.withPool(capacity: 2) { pool, counted in
            // Optionals, so that the test itself holds no lease once it has handed it back.
            var first: ConnectionPool.Lease? = try await pool.acquire()
            var second: ConnectionPool.Lease? = try await pool.acquire()
            pool.release(first!)
            first = nil
            #expect(counted.open.load(ordering: .relaxed) == 2)
            pool.close()
            #expect(counted.open.load(ordering: .relaxed) == 1, "the idle one is closed")
            pool.release(second!)
            second = nil
            #expect(counted.open.load(ordering: .relaxed) == 0, "the busy one is closed when it comes back")
            await #expect {
                _ = try await pool.acquire()
            } throws: { error in
                (error as? DatabaseError)?.kind == .serverShutdown && (error as? DatabaseError)?.isTransient == true
            }
        }
    }
}

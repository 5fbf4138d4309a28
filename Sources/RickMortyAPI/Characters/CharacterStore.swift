import NIOCore

/// A page read from one consistent snapshot: its `/characters` body, written as the rows were
/// read (``CharacterPage/Writer``), and the facts it was computed from.
struct PageSnapshot: Sendable, Equatable {
    let totalCount: Int
    /// The data generation the rows belong to; bumped by every refresh that changed the set.
    let generation: Int64
    let body: [UInt8]
}

/// What the database says about the stored set as a whole.
struct DataState: Sendable, Equatable {
    let count: Int
    let generation: Int64
    /// Unix time of the last successful refresh by any replica, nil if none ever succeeded.
    let lastRefresh: Double?
}

/// What a call to ``CharacterStore/refresh(isDue:fetch:now:)`` did.
enum RefreshOutcome: Sendable, Equatable {
    /// Another refresh (this replica's or another's) holds the lock.
    case skippedLocked
    /// The lock was free but the data did not need refreshing.
    case skippedNotDue
    /// The upstream was walked and the result stored: `changed` is false when it was exactly the
    /// stored set, which then keeps its generation (only the refresh time moves).
    case replaced(count: Int, generation: Int64, changed: Bool)
}

/// Where characters live. Implementations throw `DatabaseError` for database failures.
protocol CharacterStore: Sendable {
    /// Brings the schema to the current version; safe to run from several replicas at once.
    func migrate() async throws
    /// One page and the total count, from one consistent snapshot; the future completes on
    /// `eventLoop`. `use`, when given, records the connection that served it.
    func page(
        _ query: CharacterQuery,
        on eventLoop: any EventLoop,
        noting use: DatabaseUse?
    ) -> EventLoopFuture<PageSnapshot>
    /// The stored set's size, generation and refresh time; doubles as the health check's query.
    func state() async throws -> DataState
    /// Under the refresh lease shared by all replicas: if `isDue` says so, calls `fetch` (holding
    /// no connection or transaction meanwhile) and replaces the stored set with its result in one
    /// short transaction. Any failure, including a lease lost to another replica, changes nothing.
    func refresh(
        isDue: @escaping @Sendable (DataState) -> Bool,
        fetch: @escaping @Sendable () async throws -> [StoredCharacter],
        now: @escaping @Sendable () -> Double
    ) async throws -> RefreshOutcome
    /// Closes connections and removes temporary files.
    func close() async
}

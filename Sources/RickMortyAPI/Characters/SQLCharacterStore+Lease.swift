import Native

extension SQLCharacterStore {
    /// Takes the lease when it is free or expired; nil when another holder has it.
    func takeLease() async throws -> RefreshLease? {
        let (dialect, holder, ttl) = (self.dialect, self.holder, self.leaseTTL.seconds)
        let sql = """
            UPDATE refresh_lease SET holder = \(dialect.parameter(1)), token = token + 1,
                expires_at = \(dialect.epochNow) + \(dialect.parameter(2))
            WHERE id = 1 AND (holder IS NULL OR expires_at <= \(dialect.epochNow))
            RETURNING token
            """
        let rows = try await self.pool.withConnection { try $0.query(sql, [.text(holder), .double(ttl)]) }
        return rows.first?[0].int.map { RefreshLease(holder: holder, token: $0) }
    }

    /// Pushes the lease's expiry a full TTL ahead; false when it has been taken by someone else.
    func renewLease(_ lease: RefreshLease) async throws -> Bool {
        let dialect = self.dialect
        let sql = """
            UPDATE refresh_lease SET expires_at = \(dialect.epochNow) + \(dialect.parameter(1))
            WHERE id = 1 AND token = \(dialect.parameter(2)) RETURNING token
            """
        let ttl = self.leaseTTL.seconds
        return try await !self.pool.withConnection { try $0.query(sql, [.double(ttl), .int(lease.token)]) }.isEmpty
    }

    /// Gives the lease back early (after a skip or a failure); an expired lease needs nothing.
    func releaseLease(_ lease: RefreshLease) async throws {
        let sql = Self.releaseSQL(self.dialect)
        _ = try await self.pool.withConnection { try $0.query(sql, [.int(lease.token)]) }
    }

    static func releaseSQL(_ dialect: SQLDialect) -> String {
        "UPDATE refresh_lease SET holder = NULL, expires_at = 0 WHERE id = 1 AND token = \(dialect.parameter(1))"
    }

    /// Runs `body` (the upstream walk) while renewing `lease` every third of its TTL. A renewal
    /// that finds the lease taken cancels the walk and throws ``RefreshLeaseLost``; one that fails
    /// for a database error is tried again at the next tick (the commit checks the lease anyway).
    func whileHolding<T: Sendable>(
        _ lease: RefreshLease,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let interval = self.leaseTTL / 3
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                while true {
                    try await Task.sleep(for: interval)
                    let held = (try? await self.renewLease(lease)) ?? true
                    if !held { throw RefreshLeaseLost() }
                }
            }
            defer { group.cancelAll() }
            guard let result = try await group.next() else { throw CancellationError() }
            return result
        }
    }

    /// Inside the write transaction: whether `lease` is still this replica's; locks the row on
    /// PostgreSQL so nobody can take it before COMMIT.
    static func holds(_ lease: RefreshLease, _ connection: any DatabaseConnection, dialect: SQLDialect) throws -> Bool {
        let sql = "SELECT token FROM refresh_lease WHERE id = 1 AND token = \(dialect.parameter(1))\(dialect.forUpdate)"
        return try !connection.query(sql, [.int(lease.token)]).isEmpty
    }
}

/// The right to walk the upstream and write the result, held by one replica at a time. It is a
/// row in `refresh_lease`, taken and renewed in single statements on the database's own clock,
/// so the upstream walk needs no open transaction and no pooled connection.
struct RefreshLease: Sendable, Equatable {
    /// Who holds it (``SQLCharacterStore/holder``), for operators reading the table.
    let holder: String
    /// Goes up by one each time anyone takes the lease; a holder whose token is no longer the
    /// row's has lost it.
    let token: Int64
}

/// The refresh lease was taken by another replica (it expired while this one was walking the
/// upstream); nothing was written.
struct RefreshLeaseLost: Error, CustomStringConvertible {
    var description: String { "the refresh lease was lost to another replica; nothing was written" }
}

/// `pg_drop_in_transaction`: the connection ends as soon as the server reports an open
/// transaction (`ReadyForQuery` with status `T`).
struct PostgresDropInTransactionFault: PostgresFault {
    static let type = "pg_drop_in_transaction"
    static let defaults = Self.resetDefault

    let reset: Bool

    init(_ toxic: Toxic) {
        self.reset = toxic.number("reset") > 0
    }

    func react(to event: PostgresEvent, on connection: LinkToxic, picks: (Double) -> Bool) -> PostgresAction? {
        guard case .readyForQuery(let status) = event, status == UInt8(ascii: "T") else { return nil }
        return .drop(reset: self.reset, outcome: "dropped in transaction")
    }
}

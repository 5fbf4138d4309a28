/// `pg_drop_startup`: new connections are closed (or reset) at their StartupMessage, before
/// authentication.
struct PostgresDropStartupFault: PostgresFault {
    static let type = "pg_drop_startup"
    static let defaults = Self.resetDefault

    let reset: Bool

    init(_ toxic: Toxic) {
        self.reset = toxic.number("reset") > 0
    }

    func react(to event: PostgresEvent, on connection: LinkToxic, picks: (Double) -> Bool) -> PostgresAction? {
        guard case .startup = event else { return nil }
        return .drop(reset: self.reset, outcome: self.reset ? "reset at startup" : "closed at startup")
    }
}

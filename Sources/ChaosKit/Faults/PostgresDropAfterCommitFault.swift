/// `pg_drop_after_commit`, the ambiguous commit: the COMMIT reaches the server and commits; its
/// reply is withheld and the connection ends, so the client cannot know the outcome.
struct PostgresDropAfterCommitFault: PostgresFault {
    static let type = "pg_drop_after_commit"
    static let defaults = Self.resetDefault

    let reset: Bool

    init(_ toxic: Toxic) {
        self.reset = toxic.number("reset") > 0
    }

    func react(to event: PostgresEvent, on connection: LinkToxic, picks: (Double) -> Bool) -> PostgresAction? {
        guard case .commitSent = event else { return nil }
        return .cutCommitReply(reset: self.reset)
    }
}

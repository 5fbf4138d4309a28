/// `pg_error`: a query whose SQL contains `match` (any query when empty), picked with
/// `probability`, is answered with an ErrorResponse carrying `sqlstate`; with `phase: startup`,
/// the StartupMessage is (as a full server answers 53300).
struct PostgresErrorFault: PostgresFault {
    static let type = "pg_error"
    static let defaults: [String: AttributeValue] = [
        "sqlstate": .string("57P01"), "message": .string(""), "severity": .string(""),
        "phase": .string("query"), "match": .string(""), "probability": .number(1),
    ]
    static let choices: [String: Set<String>] = ["phase": ["query", "startup"], "severity": ["", "error", "fatal"]]

    let reply: PostgresErrorReply
    let atStartup: Bool
    let match: String
    let probability: Double

    init(_ toxic: Toxic) {
        let sqlstate = toxic.string("sqlstate").uppercased()
        let severity = toxic.string("severity").uppercased()
        // Classes in which the server ends the session: connection, authorization, resources, shutdown.
        let fatal =
            severity.isEmpty ? ["08", "28", "53", "57"].contains(String(sqlstate.prefix(2))) : severity == "FATAL"
        let message = toxic.string("message")
        self.reply = PostgresErrorReply(
            sqlstate: sqlstate,
            message: message.isEmpty ? "chaos: injected error \(sqlstate)" : message,
            fatal: fatal
        )
        self.atStartup = toxic.string("phase").lowercased() == "startup"
        self.match = toxic.string("match").lowercased()
        self.probability = toxic.number("probability")
    }

    var problem: String? {
        guard self.reply.sqlstate.utf8.count == 5,
            self.reply.sqlstate.allSatisfy({ $0.isASCII && ($0.isNumber || $0.isLetter) })
        else { return "sqlstate must be five letters or digits, e.g. 57P01" }
        return self.probability <= 1 ? nil : "probability must be between 0 and 1"
    }

    func react(to event: PostgresEvent, on connection: LinkToxic, picks: (Double) -> Bool) -> PostgresAction? {
        switch event {
        case .startup where self.atStartup:
            guard picks(self.probability) else { return nil }
            var reply = self.reply
            reply.fatal = true  // the server always ends a refused startup
            return .error(reply)
        case .query(let sql) where !self.atStartup:
            guard self.match.isEmpty || sql.lowercased().contains(self.match), picks(self.probability) else {
                return nil
            }
            return .error(self.reply)
        default:
            return nil
        }
    }
}

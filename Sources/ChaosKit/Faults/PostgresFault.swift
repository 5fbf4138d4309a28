/// A fault on the PostgreSQL v3 protocol. The tracker follows the messages and tells every
/// PostgreSQL fault that applies about each event, in the order the toxics were added; the first
/// action returned is carried out.
protocol PostgresFault: Fault {
    func react(to event: PostgresEvent, on connection: LinkToxic, picks: (Double) -> Bool) -> PostgresAction?
}

/// What the tracker saw.
enum PostgresEvent {
    /// The client's StartupMessage, before it is forwarded.
    case startup
    /// A query (simple `Query`, or the first `Parse`/`Bind` of an extended cycle), before it is forwarded.
    case query(sql: String)
    /// A COMMIT was just forwarded to the server.
    case commitSent
    /// A `DataRow` was just forwarded to the client.
    case dataRow
    /// A `ReadyForQuery` with this transaction status (`I`, `T`, `E`) was just forwarded.
    case readyForQuery(status: UInt8)
}

/// What a fault makes the tracker do.
enum PostgresAction {
    /// End the connection (RST to the client with `reset`), after what was already forwarded.
    case drop(reset: Bool, outcome: String)
    /// Answer with an ErrorResponse instead of forwarding; FATAL also ends the connection.
    case error(PostgresErrorReply)
    /// Withhold the server's reply to the COMMIT just sent, then end the connection.
    case cutCommitReply(reset: Bool)
}

/// An ErrorResponse to answer with.
struct PostgresErrorReply: Sendable, Equatable {
    var sqlstate: String
    var message: String
    /// FATAL ends the connection (as the server does for 57P01 or 53300); ERROR does not.
    var fatal: Bool
}

extension PostgresFault {
    /// The `reset` attribute shared by the drop faults.
    static var resetDefault: [String: AttributeValue] { ["reset": .number(0)] }
}

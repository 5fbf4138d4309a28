/// `pg_drop_after_rows`: the connection ends after `rows` DataRows reached the client (counted
/// per connection from when the toxic arrived).
struct PostgresDropAfterRowsFault: PostgresFault {
    static let type = "pg_drop_after_rows"
    static let defaults: [String: AttributeValue] = ["rows": .number(1), "reset": .number(0)]

    let rows: Int
    let reset: Bool

    init(_ toxic: Toxic) {
        self.rows = Int(toxic.number("rows"))
        self.reset = toxic.number("reset") > 0
    }

    func react(to event: PostgresEvent, on connection: LinkToxic, picks: (Double) -> Bool) -> PostgresAction? {
        guard case .dataRow = event else { return nil }
        connection.count += 1
        guard connection.count >= self.rows else { return nil }
        return .drop(reset: self.reset, outcome: "dropped after \(connection.count) rows")
    }
}

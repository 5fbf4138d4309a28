/// A response FakeUpstream will send, before any misbehaviour is applied.
public struct FakeResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response with the real API's content type.
    static func json(_ status: Int, _ body: [UInt8]) -> FakeResponse {
        FakeResponse(status: status, headers: [("Content-Type", "application/json; charset=utf-8")], body: body)
    }

    static func error(_ status: Int, _ message: String) -> FakeResponse {
        .json(status, Array(#"{"error":"\#(message)"}"#.utf8))
    }
}

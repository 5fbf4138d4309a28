/// `http_status`: the proxy answers matching requests itself with `status`, `headers`, `body`
/// and an optional `Retry-After` (seconds or an HTTP-date); the upstream never sees them.
struct HTTPStatusFault: HTTPFault {
    static let type = "http_status"
    static let defaults: [String: AttributeValue] = HTTPMatcher.defaults.merging([
        "status": .number(503), "retry_after": .string(""), "body": .string(""), "headers": .table([:]),
    ]) { $1 }

    let matcher: HTTPMatcher
    let status: Int
    let headers: [(String, String)]
    let body: String

    init(_ toxic: Toxic) {
        self.matcher = HTTPMatcher(toxic)
        self.status = Int(toxic.number("status"))
        var headers = (toxic.attributes["headers"]?.table ?? [:]).sorted { $0.key < $1.key }
        if !toxic.string("retry_after").isEmpty { headers.append(("Retry-After", toxic.string("retry_after"))) }
        self.headers = headers
        self.body = toxic.string("body")
    }

    var problem: String? {
        guard (100...599).contains(self.status) else { return "status must be from 100 to 599" }
        for (name, value) in self.headers
        where name.isEmpty || !name.allSatisfy(Self.isTokenCharacter) || value.contains(where: \.isNewline) {
            return "headers: \(name) is not a valid header"
        }
        return self.matcher.problem
    }

    private static func isTokenCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || "-_!#$%&'*+.^`|~".contains(character))
    }

    func apply(to plan: inout HTTPPlan, toxic: LinkToxic) {
        if plan.answer == nil { plan.answer = (toxic, self.status, self.headers, self.body) }
    }
}

import HTTPTypes

extension HTTPField.Name {
    /// A header name written in this source. A literal that is not a valid field name is a
    /// programming error, caught the first time the name is used.
    static func literal(_ name: StaticString) -> HTTPField.Name {
        guard let field = HTTPField.Name("\(name)") else { preconditionFailure("invalid header name \(name)") }
        return field
    }

    static let requestID = literal("X-Request-ID")
    static let traceparentHeader = literal("traceparent")
    static let rateLimitLimit = literal("RateLimit-Limit")
    static let rateLimitRemaining = literal("RateLimit-Remaining")
    static let rateLimitReset = literal("RateLimit-Reset")
}

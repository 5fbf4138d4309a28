/// A toxic's attributes in typed form: what the connection engine acts on.
enum ToxicEffect: Sendable, Equatable {
    // Toxiproxy's toxics, on one stream's bytes.
    case latency(milliseconds: Double, jitter: Double)
    case bandwidth(kilobytesPerSecond: Double)
    case slowClose(milliseconds: Double)
    case timeout(milliseconds: Double)
    case resetPeer(milliseconds: Double)
    case slicer(averageSize: Int, sizeVariation: Int, delayMicroseconds: Double)
    case limitData(bytes: Int)
    // HTTP/1.1-aware, decided per request.
    case httpStatus(HTTPMatcher, status: Int, headers: [(String, String)], body: String)
    case httpDelay(HTTPMatcher, milliseconds: Double, body: Bool)
    case httpReset(HTTPMatcher, afterBytes: Int)
    // PostgreSQL v3 protocol-aware.
    case pgDropStartup(reset: Bool)
    case pgDropInTransaction(reset: Bool)
    case pgDropAfterRows(rows: Int, reset: Bool)
    case pgDropAfterCommit(reset: Bool)
    case pgError(PostgresError, startup: Bool, match: String, probability: Double)

    /// Which requests an HTTP toxic acts on, and how often.
    struct HTTPMatcher: Sendable, Equatable {
        var method: String
        var pathPrefix: String
        /// `key=value` pairs that must all be in the request's query.
        var query: [String]
        var probability: Double

        func matches(method: String, target: String) -> Bool {
            if !self.method.isEmpty && self.method.uppercased() != method { return false }
            let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
            if !path.hasPrefix(self.pathPrefix) { return false }
            if self.query.isEmpty { return true }
            let present = Set(
                (target.split(separator: "?", maxSplits: 1).dropFirst().first ?? "").split(separator: "&").map(
                    String.init
                )
            )
            return self.query.allSatisfy(present.contains)
        }
    }

    /// An ErrorResponse to answer with.
    struct PostgresError: Sendable, Equatable {
        var sqlstate: String
        var message: String
        /// FATAL ends the connection (as the server does for 57P01 or 53300); ERROR does not.
        var fatal: Bool
    }

    static func == (lhs: ToxicEffect, rhs: ToxicEffect) -> Bool { "\(lhs)" == "\(rhs)" }

    init(_ toxic: Toxic) {
        let number = toxic.number
        let string = toxic.string
        let matcher = HTTPMatcher(
            method: string("method"),
            pathPrefix: string("path_prefix"),
            query: string("query").split(separator: "&").map(String.init),
            probability: number("probability")
        )
        switch toxic.type {
        case "latency": self = .latency(milliseconds: number("latency"), jitter: number("jitter"))
        case "bandwidth": self = .bandwidth(kilobytesPerSecond: number("rate"))
        case "slow_close": self = .slowClose(milliseconds: number("delay"))
        case "timeout": self = .timeout(milliseconds: number("timeout"))
        case "reset_peer": self = .resetPeer(milliseconds: number("timeout"))
        case "slicer":
            self = .slicer(
                averageSize: Int(number("average_size")),
                sizeVariation: Int(number("size_variation")),
                delayMicroseconds: number("delay")
            )
        case "limit_data": self = .limitData(bytes: Int(number("bytes")))
        case "http_status":
            var headers = (toxic.attributes["headers"]?.table ?? [:]).sorted { $0.key < $1.key }
            if !string("retry_after").isEmpty { headers.append(("Retry-After", string("retry_after"))) }
            self = .httpStatus(matcher, status: Int(number("status")), headers: headers, body: string("body"))
        case "http_delay":
            self = .httpDelay(matcher, milliseconds: number("delay"), body: string("target").lowercased() == "body")
        case "http_reset": self = .httpReset(matcher, afterBytes: Int(number("after_bytes")))
        case "pg_drop_startup": self = .pgDropStartup(reset: number("reset") > 0)
        case "pg_drop_in_transaction": self = .pgDropInTransaction(reset: number("reset") > 0)
        case "pg_drop_after_rows": self = .pgDropAfterRows(rows: Int(number("rows")), reset: number("reset") > 0)
        case "pg_drop_after_commit": self = .pgDropAfterCommit(reset: number("reset") > 0)
        default:
            let sqlstate = string("sqlstate").uppercased()
            let severity = string("severity").uppercased()
            // Classes in which the server ends the session: admin shutdown, resources, connection.
            let fatal =
                severity.isEmpty ? ["57", "53", "08", "28"].contains(String(sqlstate.prefix(2))) : severity == "FATAL"
            let message = string("message")
            self = .pgError(
                PostgresError(
                    sqlstate: sqlstate,
                    message: message.isEmpty ? "chaos: injected error \(sqlstate)" : message,
                    fatal: fatal
                ),
                startup: string("phase").lowercased() == "startup",
                match: string("match"),
                probability: number("probability")
            )
        }
    }

    /// Why the attributes make no sense, or nil.
    var problem: String? {
        switch self {
        case .slicer(let average, let variation, _) where variation > average:
            return "size_variation must not exceed average_size"
        case .httpStatus(let matcher, let status, let headers, _):
            guard (100...599).contains(status) else { return "status must be from 100 to 599" }
            for (name, value) in headers
            where name.isEmpty || !name.allSatisfy(Self.isTokenCharacter) || value.contains(where: \.isNewline) {
                return "headers: \(name) is not a valid header"
            }
            return matcher.problem
        case .httpDelay(let matcher, _, _), .httpReset(let matcher, _):
            return matcher.problem
        case .pgError(let error, _, _, let probability):
            guard error.sqlstate.utf8.count == 5,
                error.sqlstate.allSatisfy({ $0.isASCII && ($0.isNumber || $0.isLetter) })
            else { return "sqlstate must be five letters or digits, e.g. 57P01" }
            guard probability <= 1 else { return "probability must be between 0 and 1" }
            return nil
        default:
            return nil
        }
    }

    private static func isTokenCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || "-_!#$%&'*+.^`|~".contains(character))
    }

    /// Whether the toxic reads HTTP requests (and so ignores `stream`).
    var isHTTP: Bool {
        switch self {
        case .httpStatus, .httpDelay, .httpReset: return true
        default: return false
        }
    }
}

extension ToxicEffect.HTTPMatcher {
    /// Checks shared by the three HTTP toxics.
    var problem: String? {
        if self.probability > 1 { return "probability must be between 0 and 1" }
        if !self.method.allSatisfy({ $0.isASCII && $0.isLetter }) { return "method must be an HTTP method, e.g. GET" }
        return nil
    }
}

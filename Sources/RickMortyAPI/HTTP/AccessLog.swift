import Logging

/// The request's log lines, the same whichever lane served it (``CharactersHandler`` on the event
/// loop, or ``AppResponder`` behind Hummingbird): the request id and, when the client sent a
/// valid `traceparent`, its trace in every line, and one `request` line at info when it is done.
enum AccessLog {
    /// The request's logger: `base` plus the request id and trace.
    static func requestLogger(_ base: Logger, requestID: String, traceparent: String?) -> Logger {
        var logger = base
        logger[metadataKey: "request_id"] = .string(requestID)
        if let trace = RequestIdentity.traceContext(from: traceparent) {
            logger[metadataKey: "trace_id"] = .string(trace.traceID)
            logger[metadataKey: "parent_span_id"] = .string(trace.spanID)
        }
        return logger
    }

    /// Writes the access line. Callers skip building its arguments when info is off.
    static func write(
        _ base: Logger,
        requestID: String,
        traceparent: String?,
        method: String,
        route: String,
        status: Int,
        seconds: Double,
        databaseUse: DatabaseUse?
    ) {
        var metadata: Logger.Metadata = [
            "http.method": .string(method), "http.route": .string(route),
            "http.status": .stringConvertible(status),
            "http.duration_ms": .stringConvertible((seconds * 1_000_000).rounded() / 1000),
        ]
        if let used = databaseUse?.summary { metadata["db.connection"] = .string(used) }
        Self.requestLogger(base, requestID: requestID, traceparent: traceparent).info("request", metadata: metadata)
    }

    /// The method as a metric and log label: the standard ones by name, anything else `other`, so
    /// a client cannot grow the label set.
    static func methodLabel(_ method: String) -> String {
        switch method {
        case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS": return method
        default: return "other"
        }
    }
}

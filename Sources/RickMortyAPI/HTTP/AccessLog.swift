import Logging

/// The request's log lines, the same whichever lane served it (``CharactersHandler`` on the event
/// loop, or ``AppResponder`` behind Hummingbird): the request id and, when the client sent a
/// valid `traceparent`, its trace in every line, and one `request` line at info when it is done.
enum AccessLog {
    /// The request's logger: `base` plus the request id and trace.
    static func requestLogger(_ base: Logger, requestID: String, traceparent: String?) -> Logger {
        var logger = base
        for (key, value) in Self.identity(requestID: requestID, traceparent: traceparent) {
            logger[metadataKey: key] = value
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
        // The id and trace go in with the line's own metadata rather than through a request
        // logger made for one line: the same line, without copying the logger's metadata.
        var metadata = Self.identity(requestID: requestID, traceparent: traceparent, capacity: 8)
        metadata["http.method"] = .string(method)
        metadata["http.route"] = .string(route)
        metadata["http.status"] = .stringConvertible(status)
        metadata["http.duration_ms"] = .stringConvertible((seconds * 1_000_000).rounded() / 1000)
        if let used = databaseUse?.summary { metadata["db.connection"] = .string(used) }
        base.info("request", metadata: metadata)
    }

    /// The request id and, when `traceparent` is valid, its trace and parent span.
    private static func identity(requestID: String, traceparent: String?, capacity: Int = 3) -> Logger.Metadata {
        var metadata = Logger.Metadata(minimumCapacity: capacity)
        metadata["request_id"] = .string(requestID)
        if let trace = RequestIdentity.traceContext(from: traceparent) {
            metadata["trace_id"] = .string(trace.traceID)
            metadata["parent_span_id"] = .string(trace.spanID)
        }
        return metadata
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

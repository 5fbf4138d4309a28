import CCurl

/// What an HTTP exchange returned.
public struct HTTPExchange: Sendable {
    /// The final status code.
    public let status: Int
    /// Response headers, names lowercased, in arrival order.
    public let headers: [(name: String, value: String)]
    /// The response body.
    public let body: [UInt8]

    /// The first header with this (lowercase) name.
    public func header(_ name: String) -> String? {
        self.headers.first { $0.name == name }?.value
    }
}

/// Why an HTTP exchange produced no response.
public struct HTTPTransportError: Error, Sendable, CustomStringConvertible {
    /// The broad cause, for retry decisions and metrics.
    public enum Kind: String, Sendable, CaseIterable {
        case connect, timeout, reset
        case protocolError = "protocol"
        case other
    }

    /// The classification.
    public let kind: Kind
    /// libcurl's explanation.
    public let message: String

    /// Creates an error.
    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(self.kind.rawValue): \(self.message)" }
}

/// Blocking HTTP over libcurl. Each call uses its own easy handle, so the type holds no
/// state and may be called from several threads at once.
public struct CurlHTTPClient: Sendable {
    /// Creates a client; libcurl's global state is initialised once per process.
    public init() {
        Self.globalInit
    }

    private static let globalInit: Void = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()

    /// Performs `GET url` and returns whatever status the server sent.
    /// - Parameters:
    ///   - timeout: total time allowed for the exchange, in seconds.
    ///   - headers: request headers as `Name: value` pairs.
    public func get(_ url: String, timeout: Double, headers: [(String, String)] = []) throws -> HTTPExchange {
        try self.request("GET", url, body: nil, timeout: timeout, headers: headers)
    }

    /// Performs any method, with an optional body, and returns whatever status the server sent.
    public func request(
        _ method: String,
        _ url: String,
        body: String?,
        timeout: Double,
        headers: [(String, String)] = []
    ) throws -> HTTPExchange {
        guard let handle = curl_easy_init() else {
            throw HTTPTransportError(kind: .other, message: "curl_easy_init failed")
        }
        defer { curl_easy_cleanup(handle) }
        let sink = ResponseSink()
        let unmanaged = Unmanaged.passRetained(sink)
        defer { unmanaged.release() }

        var list: UnsafeMutablePointer<curl_slist>?
        for (name, value) in headers { list = curl_slist_append(list, "\(name): \(value)") }
        defer { curl_slist_free_all(list) }

        let millis = max(1, Int(timeout * 1000))
        _ = ccurl_setopt_string(handle, CURLOPT_URL, url)
        _ = ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, millis)
        _ = ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, millis)
        _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        _ = ccurl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, "")
        _ = ccurl_setopt_string(handle, CURLOPT_USERAGENT, "rickmorty-api/1 (libcurl)")
        _ = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
        if method != "GET" { _ = ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method) }
        if let body {
            _ = ccurl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.utf8.count)
            _ = ccurl_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, body)
        }
        _ = ccurl_setopt_write_function(handle, curlWriteBody)
        _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, unmanaged.toOpaque())
        _ = ccurl_setopt_header_function(handle, curlWriteHeader)
        _ = ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, unmanaged.toOpaque())

        let code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            throw HTTPTransportError(kind: Self.kind(code), message: String(cString: curl_easy_strerror(code)))
        }
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPExchange(status: status, headers: sink.headers, body: sink.body)
    }

    private static func kind(_ code: CURLcode) -> HTTPTransportError.Kind {
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .connect
        case CURLE_OPERATION_TIMEDOUT: return .timeout
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE: return .reset
        case CURLE_WEIRD_SERVER_REPLY, CURLE_BAD_CONTENT_ENCODING, CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            return .protocolError
        default: return .other
        }
    }
}

/// Collects what libcurl's callbacks deliver during one `curl_easy_perform`.
private final class ResponseSink {
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []

    func addHeaderLine(_ line: String) {
        // A new status line (after a 100-continue or redirect) starts a fresh header block.
        if line.hasPrefix("HTTP/") {
            self.headers.removeAll()
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t\r\n")
        self.headers.append((name, value))
    }
}

private func curlWriteBody(
    _ data: UnsafeMutablePointer<CChar>?,
    _ size: Int,
    _ count: Int,
    _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        sink.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: length))
    }
    return length
}

private func curlWriteHeader(
    _ data: UnsafeMutablePointer<CChar>?,
    _ size: Int,
    _ count: Int,
    _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    let line = data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
    }
    sink.addHeaderLine(line)
    return length
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let scalars = Array(self.unicodeScalars)
        var start = 0
        var end = scalars.count
        while start < end, set.unicodeScalars.contains(scalars[start]) { start += 1 }
        while end > start, set.unicodeScalars.contains(scalars[end - 1]) { end -= 1 }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[start..<end])
        return String(result)
    }
}

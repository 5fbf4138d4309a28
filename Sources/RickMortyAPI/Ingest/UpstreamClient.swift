import JSONWriting
import NIOPosix
import Native

/// An upstream HTTP response, reduced to what ingest needs.
struct UpstreamResponse: Sendable {
    let status: Int
    let retryAfter: String?
    let body: [UInt8]
}

/// Fetches a URL from the character API. Throws ``IngestError/transport(kind:message:)`` when no
/// response arrived; any HTTP status is a response.
protocol UpstreamClient: Sendable {
    func get(_ url: String) async throws -> UpstreamResponse
}

/// ``UpstreamClient`` over libcurl, each request on the blocking thread pool.
struct CurlUpstreamClient: UpstreamClient {
    let timeout: Duration
    let threadPool: NIOThreadPool
    private let client = CurlHTTPClient()

    init(timeout: Duration, threadPool: NIOThreadPool) {
        self.timeout = timeout
        self.threadPool = threadPool
    }

    func get(_ url: String) async throws -> UpstreamResponse {
        let client = self.client
        let seconds = self.timeout.seconds
        do {
            let exchange = try await self.threadPool.runIfActive {
                try client.get(url, timeout: seconds, headers: [("Accept", "application/json")])
            }
            return UpstreamResponse(
                status: exchange.status,
                retryAfter: exchange.header("retry-after"),
                body: exchange.body
            )
        } catch let error as HTTPTransportError {
            // libcurl's "Timeout was reached" does not say how long; the operator wants to know.
            let message =
                error.kind == .timeout
                ? "timeout after \(seconds.plainText) s" : Self.lowercasingFirst(error.message)
            throw IngestError.transport(kind: error.kind.rawValue, message: message)
        }
    }

    static func lowercasingFirst(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.lowercased() + text.dropFirst()
    }
}

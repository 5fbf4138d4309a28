import Foundation
import NIOCore

/// Follows HTTP/1.1 requests on a link so HTTP toxics can act per request: it finds each request
/// head, decides which toxics pick it, and shapes the response that follows. It assumes clients
/// do not pipeline (curl, browsers and AsyncHTTPClient wait for a response before the next
/// request): the bytes the server sends after a request are that request's response. Requests
/// with chunked bodies or protocol upgrades end tracking on that connection (bytes still flow).
final class HTTPTracker {
    private unowned let link: Link

    private enum RequestState {
        case head
        case body(remaining: Int)
        case swallow(remaining: Int)
        case opaque
    }

    /// What to do with the current response.
    private enum ResponsePlan {
        case pass
        case delay(TimeAmount, body: Bool)
        case reset(afterBytes: Int, toxic: LinkToxic, request: Int)
    }

    private var state = RequestState.head
    private var head = ByteBuffer()
    private var requests = 0
    private var plan = ResponsePlan.pass
    /// Progress through the response head's closing CRLFCRLF (0…4).
    private var headMatch = 0
    private var bodyBytes = 0

    private static let maximumHead = 64 * 1024

    init(link: Link) {
        self.link = link
    }

    static func looksLikeRequest(_ buffer: ByteBuffer) -> Bool {
        let methods = ["GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "PATCH ", "OPTIONS "]
        let start = buffer.getString(at: buffer.readerIndex, length: min(8, buffer.readableBytes)) ?? ""
        return methods.contains { start.hasPrefix($0) }
    }

    // MARK: - Client → server

    func fromClient(_ chunk: ByteBuffer) {
        var buffer = chunk
        while buffer.readableBytes > 0 {
            switch self.state {
            case .opaque:
                return self.link.deliver(buffer, stream: .upstream)
            case .body(let remaining), .swallow(let remaining):
                let length = min(remaining, buffer.readableBytes)
                let slice = buffer.readSlice(length: length) ?? ByteBuffer()
                if case .body = self.state {
                    self.link.deliver(slice, stream: .upstream)
                    self.state = remaining == length ? .head : .body(remaining: remaining - length)
                } else {
                    self.state = remaining == length ? .head : .swallow(remaining: remaining - length)
                }
            case .head:
                let scanFrom = max(0, self.head.readableBytes - 3)
                self.head.writeBuffer(&buffer)
                guard let end = Self.endOfHead(in: self.head, from: scanFrom) else {
                    if self.head.readableBytes > Self.maximumHead {
                        self.state = .opaque
                        self.link.deliver(self.head, stream: .upstream)
                        self.head = ByteBuffer()
                    }
                    return
                }
                let request = self.head.readSlice(length: end) ?? ByteBuffer()
                buffer = self.head
                self.head = ByteBuffer()
                self.handle(request)
            }
        }
    }

    /// Index (relative to the reader index) just past the first CRLFCRLF at or after `from`.
    private static func endOfHead(in buffer: ByteBuffer, from: Int) -> Int? {
        let view = buffer.readableBytesView
        var index = view.startIndex + from
        while index + 3 < view.endIndex {
            if view[index] == 13, view[index + 1] == 10, view[index + 2] == 13, view[index + 3] == 10 {
                return index + 4 - view.startIndex
            }
            index += 1
        }
        return nil
    }

    private func handle(_ request: ByteBuffer) {
        let text = String(buffer: request)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
        let parts = (lines.first ?? "").split(separator: " ")
        let method = parts.first.map(String.init) ?? ""
        let target = parts.count > 1 ? String(parts[1]) : "/"
        var bodyLength = 0
        var untrackable = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces).lowercased()
            if name == "content-length" { bodyLength = Int(value) ?? 0 }
            if name == "transfer-encoding" && value.contains("chunked") { untrackable = true }
            if name == "upgrade" { untrackable = true }
        }
        self.requests += 1
        let number = self.requests

        var answer: (LinkToxic, status: Int, headers: [(String, String)], body: String)?
        var plan = ResponsePlan.pass
        for toxic in self.link.toxics where toxic.applies && toxic.effect.isHTTP {
            let matcher: ToxicEffect.HTTPMatcher
            switch toxic.effect {
            case .httpStatus(let m, _, _, _), .httpDelay(let m, _, _), .httpReset(let m, _): matcher = m
            default: continue
            }
            guard matcher.matches(method: method, target: target) else { continue }
            guard self.link.picks(toxic, request: number, probability: matcher.probability) else {
                self.link.record(toxic, request: number, outcome: "skipped")
                continue
            }
            switch toxic.effect {
            case .httpStatus(_, let status, let headers, let body) where answer == nil:
                answer = (toxic, status, headers, body)
            case .httpDelay(_, let milliseconds, let body):
                self.link.fault(
                    toxic,
                    request: number,
                    outcome: "delayed \(body ? "body" : "headers") \(milliseconds) ms"
                )
                if case .delay(let earlier, let earlierBody) = plan, earlierBody == body {
                    plan = .delay(earlier + .nanoseconds(Int64(milliseconds * 1_000_000)), body: body)
                } else if case .reset = plan {
                } else {
                    plan = .delay(.nanoseconds(Int64(milliseconds * 1_000_000)), body: body)
                }
            case .httpReset(_, let afterBytes):
                plan = .reset(afterBytes: afterBytes, toxic: toxic, request: number)
            default:
                break
            }
        }

        if let answer {
            self.link.fault(answer.0, request: number, outcome: "status \(answer.status)")
            self.link.inject(Self.response(status: answer.status, headers: answer.headers, body: answer.body))
            self.state = bodyLength > 0 ? .swallow(remaining: bodyLength) : .head
            return
        }
        self.plan = plan
        self.headMatch = 0
        self.bodyBytes = 0
        self.link.deliver(request, stream: .upstream)
        self.state = untrackable ? .opaque : (bodyLength > 0 ? .body(remaining: bodyLength) : .head)
    }

    /// A complete response of the proxy's own making; the connection stays open.
    static func response(status: Int, headers: [(String, String)], body: String) -> ByteBuffer {
        var text = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        var names = Set<String>()
        for (name, value) in headers {
            text += "\(name): \(value)\r\n"
            names.insert(name.lowercased())
        }
        if !body.isEmpty && !names.contains("content-type") {
            let json = body.first == "{" || body.first == "["
            text += "Content-Type: \(json ? "application/json" : "text/plain; charset=utf-8")\r\n"
        }
        text += "Content-Length: \(body.utf8.count)\r\nX-Chaos-Injected: true\r\n\r\n\(body)"
        return ByteBuffer(string: text)
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 408: return "Request Timeout"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "Status \(status)"
        }
    }

    // MARK: - Server → client

    func fromServer(_ chunk: ByteBuffer) {
        switch self.plan {
        case .pass:
            self.link.deliver(chunk, stream: .downstream)
        case .delay(let delay, body: false):
            // Holding the first bytes holds everything after them too (the stage keeps order).
            self.plan = .pass
            self.link.deliver(chunk, stream: .downstream, delay: delay)
        case .delay(let delay, body: true):
            guard let end = self.scanForBody(chunk) else { return self.link.deliver(chunk, stream: .downstream) }
            self.plan = .pass
            self.link.deliver(chunk.getSlice(at: chunk.readerIndex, length: end) ?? ByteBuffer(), stream: .downstream)
            self.link.deliver(
                chunk.getSlice(at: chunk.readerIndex + end, length: chunk.readableBytes - end) ?? ByteBuffer(),
                stream: .downstream,
                delay: delay
            )
        case .reset(let afterBytes, let toxic, let request):
            var cut: Int?
            if self.headMatch < 4 {
                if let end = self.scanForBody(chunk) {
                    let rest = chunk.readableBytes - end
                    if rest >= afterBytes { cut = end + afterBytes } else { self.bodyBytes = rest }
                }
            } else {
                let wanted = afterBytes - self.bodyBytes
                if chunk.readableBytes >= wanted { cut = wanted } else { self.bodyBytes += chunk.readableBytes }
            }
            guard let cut else { return self.link.deliver(chunk, stream: .downstream) }
            self.plan = .pass
            self.link.deliver(chunk.getSlice(at: chunk.readerIndex, length: cut) ?? ByteBuffer(), stream: .downstream)
            self.link.fault(toxic, request: request, outcome: "reset after \(afterBytes) body bytes")
            self.link.drop(reset: true)
        }
    }

    /// Feeds response bytes through the CRLFCRLF matcher; returns the offset just past the head's
    /// end if it is in `chunk`.
    private func scanForBody(_ chunk: ByteBuffer) -> Int? {
        let pattern: [UInt8] = [13, 10, 13, 10]
        var offset = 0
        for byte in chunk.readableBytesView {
            offset += 1
            if byte == pattern[self.headMatch] {
                self.headMatch += 1
                if self.headMatch == 4 { return offset }
            } else {
                self.headMatch = byte == 13 ? 1 : 0
            }
        }
        return nil
    }
}

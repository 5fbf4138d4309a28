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
    private enum ResponseShape {
        case pass
        case delay(TimeAmount, body: Bool)
        case reset(afterBytes: Int, toxic: LinkToxic, request: Int)
    }

    private var state = RequestState.head
    private var head = ByteBuffer()
    private var requests = 0
    private var plan = ResponseShape.pass
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
                // Usual case: a whole request head in one read, nothing carried over; no copy.
                if self.head.readableBytes == 0, let end = Self.endOfHead(in: buffer, from: 0) {
                    self.handle(buffer.readSlice(length: end) ?? ByteBuffer())
                    continue
                }
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
        let head = Self.parseHead(request)
        self.requests += 1
        let number = self.requests

        var plan = HTTPPlan()
        let faults = self.link.httpFaults
        let (method, target) = faults.isEmpty ? ("", "") : Self.requestLine(request)
        for (toxic, fault) in faults where fault.matcher.matches(method: method, target: target) {
            guard self.link.picks(toxic, request: number, probability: fault.matcher.probability) else {
                self.link.record(toxic, request: number, outcome: "skipped")
                continue
            }
            fault.apply(to: &plan, toxic: toxic)
        }

        if let answer = plan.answer {
            self.link.fault(answer.toxic, request: number, outcome: "status \(answer.status)")
            self.link.inject(Self.response(status: answer.status, headers: answer.headers, body: answer.body))
            self.state = head.bodyLength > 0 ? .swallow(remaining: head.bodyLength) : .head
            return
        }
        if let reset = plan.reset {
            self.plan = .reset(afterBytes: reset.afterBytes, toxic: reset.toxic, request: number)
        } else if plan.delay > .zero {
            let milliseconds = Double(plan.delay.nanoseconds) / 1_000_000
            for toxic in plan.delayedBy {
                self.link.fault(
                    toxic,
                    request: number,
                    outcome: "delayed \(plan.delayBody ? "body" : "headers") \(milliseconds) ms"
                )
            }
            self.plan = .delay(plan.delay, body: plan.delayBody)
        } else {
            self.plan = .pass
        }
        self.headMatch = 0
        self.bodyBytes = 0
        self.link.deliver(request, stream: .upstream)
        self.state = head.untrackable ? .opaque : (head.bodyLength > 0 ? .body(remaining: head.bodyLength) : .head)
    }

    /// What the relay needs from every request head, read from the bytes without making strings.
    private struct Head {
        var bodyLength = 0
        /// Chunked body or protocol upgrade: request boundaries can no longer be followed.
        var untrackable = false
    }

    private static func parseHead(_ request: ByteBuffer) -> Head {
        var head = Head()
        let bytes = request.readableBytesView
        var lineStart = bytes.startIndex
        var index = bytes.startIndex
        var first = true
        while index + 1 < bytes.endIndex {
            guard bytes[index] == 13, bytes[index + 1] == 10 else {
                index += 1
                continue
            }
            if !first {
                let line = bytes[lineStart..<index]
                if Self.hasName(line, "content-length") {
                    head.bodyLength = Self.value(line).reduce(0) { total, byte in
                        (48...57).contains(byte) ? total &* 10 &+ Int(byte - 48) : total
                    }
                } else if Self.hasName(line, "transfer-encoding") || Self.hasName(line, "upgrade") {
                    head.untrackable = true
                }
            }
            first = false
            index += 2
            lineStart = index
        }
        return head
    }

    /// Whether a header line's name is `name` (ASCII, case-insensitive).
    private static func hasName(_ line: ByteBufferView.SubSequence, _ name: StaticString) -> Bool {
        guard line.count > name.utf8CodeUnitCount, line[line.startIndex + name.utf8CodeUnitCount] == UInt8(ascii: ":")
        else { return false }
        return name.withUTF8Buffer { expected in
            zip(line, expected).allSatisfy { $0 | 0x20 == $1 }
        }
    }

    private static func value(_ line: ByteBufferView.SubSequence) -> ByteBufferView.SubSequence {
        line.drop { $0 != UInt8(ascii: ":") }.dropFirst()
    }

    /// The method and target of a request line.
    private static func requestLine(_ request: ByteBuffer) -> (String, String) {
        let bytes = request.readableBytesView
        let line = bytes.prefix { $0 != 13 }.split(separator: UInt8(ascii: " "), maxSplits: 2)
        let method = line.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let target = line.count > 1 ? String(decoding: line[1], as: UTF8.self) : "/"
        return (method, target)
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

import Foundation
import NIOCore

/// Follows the PostgreSQL v3 protocol on a link, message by message, so PostgreSQL toxics can act
/// on startup, queries, rows, transaction state and COMMIT. If the client and server agree on
/// TLS, tracking ends on that connection (bytes still flow).
final class PostgresTracker {
    private unowned let link: Link

    private var fromClientBytes = ByteBuffer()
    private var fromServerBytes = ByteBuffer()
    /// Before the StartupMessage, client messages have no type byte.
    private var startup = true
    /// After an SSLRequest or GSSENCRequest the server answers with one byte.
    private var awaitingEncryptionAnswer = false
    private var opaque = false
    /// A toxic ended the connection; nothing more is relayed.
    private var ended = false
    /// SQL of named prepared statements, so a Bind can be matched like a Parse.
    private var statements: [String: String] = [:]
    /// The SQL of the extended-protocol cycle in progress (from its Parse/Bind to its Sync).
    private var cycleSQL: String?
    /// An error to answer the current extended cycle with, once its Sync arrives.
    private var pendingError: (LinkToxic, PostgresErrorReply, Int)?
    private var queries = 0
    /// After a COMMIT went to the server: its reply is swallowed, then the link dropped.
    private var commitCut: (toxic: LinkToxic, reset: Bool)?

    init(link: Link) {
        self.link = link
    }

    private static let sslRequest: UInt32 = 80_877_103
    private static let gssRequest: UInt32 = 80_877_104
    private static let cancelRequest: UInt32 = 80_877_102

    static func looksLikeStartup(_ buffer: ByteBuffer) -> Bool {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
            let code = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt32.self)
        else { return false }
        return (8...10_000).contains(length)
            && (code >> 16 == 3 || [Self.sslRequest, Self.gssRequest, Self.cancelRequest].contains(code))
    }

    // MARK: - Client → server

    func fromClient(_ chunk: ByteBuffer) {
        guard !self.ended else { return }
        guard !self.opaque else { return self.link.deliver(chunk, stream: .upstream) }
        var chunk = chunk
        self.fromClientBytes.writeBuffer(&chunk)
        var out = ByteBuffer()
        defer { self.link.deliver(out, stream: .upstream) }
        while !self.opaque, !self.link.dropped {
            if self.startup {
                guard
                    let length = self.fromClientBytes.getInteger(at: self.fromClientBytes.readerIndex, as: UInt32.self)
                else { return }
                guard self.fromClientBytes.readableBytes >= Int(length) else { return }
                guard let message = self.fromClientBytes.readSlice(length: Int(length)) else { return }
                let code = message.getInteger(at: message.readerIndex + 4, as: UInt32.self) ?? 0
                if code == Self.sslRequest || code == Self.gssRequest {
                    self.awaitingEncryptionAnswer = true
                    out.writeImmutableBuffer(message)
                } else if code >> 16 == 3 {
                    self.startup = false
                    if self.refuseStartup() { return }
                    out.writeImmutableBuffer(message)
                } else {
                    self.goOpaque(&out, message)
                }
            } else {
                guard
                    let length = self.fromClientBytes.getInteger(
                        at: self.fromClientBytes.readerIndex + 1,
                        as: UInt32.self
                    )
                else { return }
                guard length >= 4 else { return self.goOpaque(&out, ByteBuffer()) }
                guard self.fromClientBytes.readableBytes >= Int(length) + 1,
                    let message = self.fromClientBytes.readSlice(length: Int(length) + 1)
                else { return }
                self.handleClientMessage(message, into: &out)
            }
        }
    }

    private func goOpaque(_ out: inout ByteBuffer, _ message: ByteBuffer) {
        self.opaque = true
        out.writeImmutableBuffer(message)
        out.writeBuffer(&self.fromClientBytes)
    }

    /// Tells the faults that apply about an event; the first action any of them asks for.
    private func react(_ event: PostgresEvent, query: Int = 0) -> (LinkToxic, PostgresAction)? {
        for (toxic, fault) in self.link.postgresFaults {
            let picks = { (probability: Double) -> Bool in
                let picked = self.link.picks(toxic, request: query, probability: probability)
                if !picked { self.link.record(toxic, request: query, outcome: "skipped") }
                return picked
            }
            if let action = fault.react(to: event, on: toxic, picks: picks) { return (toxic, action) }
        }
        return nil
    }

    /// `pg_drop_startup` and `pg_error` with `phase: startup`; true if the connection ends here.
    private func refuseStartup() -> Bool {
        switch self.react(.startup) {
        case (let toxic, .drop(let reset, let outcome))?:
            self.link.fault(toxic, outcome: outcome)
            self.link.drop(reset: reset)
            return true
        case (let toxic, .error(let reply))?:
            self.link.fault(toxic, outcome: "FATAL \(reply.sqlstate) at startup")
            self.link.inject(Self.errorResponse(reply))
            self.link.drop(reset: false)
            return true
        default:
            return false
        }
    }

    /// The error a `pg_error` fault answers this query with, if one picks it.
    private func pickError(sql: String) -> (LinkToxic, PostgresErrorReply, Int)? {
        guard case (let toxic, .error(let reply))? = self.react(.query(sql: sql), query: self.queries) else {
            return nil
        }
        return (toxic, reply, self.queries)
    }

    private func handleClientMessage(_ message: ByteBuffer, into out: inout ByteBuffer) {
        let type = message.getInteger(at: message.readerIndex, as: UInt8.self) ?? 0
        let body = message.getSlice(at: message.readerIndex + 5, length: message.readableBytes - 5) ?? ByteBuffer()
        switch type {
        case UInt8(ascii: "Q"):
            let sql = Self.cString(body, at: 0) ?? ""
            self.queries += 1
            if let (toxic, error, number) = self.pickError(sql: sql) {
                self.answer(toxic, error, query: number, into: &out)
            } else {
                out.writeImmutableBuffer(message)
                if Self.isCommit(sql) { self.armCommitCut() }
            }
        case UInt8(ascii: "P"), UInt8(ascii: "B"), UInt8(ascii: "D"), UInt8(ascii: "E"), UInt8(ascii: "C"):
            var sql: String?
            if type == UInt8(ascii: "P") {
                let name = Self.cString(body, at: 0) ?? ""
                sql = Self.cString(body, at: name.utf8.count + 1)
                self.statements[name] = sql
            } else if type == UInt8(ascii: "B") {
                let portal = Self.cString(body, at: 0) ?? ""
                sql = Self.cString(body, at: portal.utf8.count + 1).flatMap { self.statements[$0] }
            }
            if self.cycleSQL == nil {
                // The first message of an extended-protocol cycle decides for the whole cycle.
                self.cycleSQL = sql ?? ""
                self.queries += 1
                self.pendingError = self.pickError(sql: sql ?? "")
            }
            if self.pendingError == nil { out.writeImmutableBuffer(message) }
        case UInt8(ascii: "S"):
            let sql = self.cycleSQL ?? ""
            self.cycleSQL = nil
            if let (toxic, error, number) = self.pendingError {
                self.pendingError = nil
                self.answer(toxic, error, query: number, into: &out)
            } else {
                out.writeImmutableBuffer(message)
                if Self.isCommit(sql) { self.armCommitCut() }
            }
        default:
            out.writeImmutableBuffer(message)
        }
    }

    /// Answers a query with the toxic's error. FATAL: the proxy sends the ErrorResponse and ends
    /// the connection, as the server would. ERROR: the server itself raises it (a `DO` block in
    /// place of the query), so its transaction state really is failed and nothing is faked.
    private func answer(_ toxic: LinkToxic, _ error: PostgresErrorReply, query: Int, into out: inout ByteBuffer) {
        self.link.fault(toxic, request: query, outcome: "\(error.fatal ? "FATAL" : "ERROR") \(error.sqlstate)")
        if error.fatal {
            self.link.inject(Self.errorResponse(error))
            self.link.drop(reset: false)
            return
        }
        let message = error.message.replacingOccurrences(of: "'", with: "''").replacingOccurrences(of: "$", with: "")
        let sql =
            "DO $chaos$BEGIN RAISE EXCEPTION USING ERRCODE = '\(error.sqlstate)', MESSAGE = '\(message)'; END$chaos$"
        out.writeInteger(UInt8(ascii: "Q"))
        out.writeInteger(UInt32(4 + sql.utf8.count + 1))
        out.writeString(sql)
        out.writeInteger(UInt8(0))
    }

    private func armCommitCut() {
        if case (let toxic, .cutCommitReply(let reset))? = self.react(.commitSent, query: self.queries) {
            self.commitCut = (toxic, reset)
        }
    }

    // MARK: - Server → client

    func fromServer(_ chunk: ByteBuffer) {
        guard !self.ended else { return }
        guard !self.opaque else { return self.link.deliver(chunk, stream: .downstream) }
        var chunk = chunk
        self.fromServerBytes.writeBuffer(&chunk)
        var out = ByteBuffer()
        defer { self.link.deliver(out, stream: .downstream) }
        if self.awaitingEncryptionAnswer {
            guard let answer = self.fromServerBytes.readInteger(as: UInt8.self) else { return }
            self.awaitingEncryptionAnswer = false
            out.writeInteger(answer)
            if answer != UInt8(ascii: "N") {
                // TLS or GSS encryption from here on: nothing left to read.
                self.opaque = true
                out.writeBuffer(&self.fromServerBytes)
                return
            }
        }
        while !self.ended, !self.link.dropped {
            guard
                let length = self.fromServerBytes.getInteger(at: self.fromServerBytes.readerIndex + 1, as: UInt32.self),
                length >= 4, self.fromServerBytes.readableBytes >= Int(length) + 1,
                let message = self.fromServerBytes.readSlice(length: Int(length) + 1)
            else { return }
            let type = message.getInteger(at: message.readerIndex, as: UInt8.self) ?? 0
            if let cut = self.commitCut {
                // The COMMIT reached the server; its reply never reaches the client.
                if type == UInt8(ascii: "Z") {
                    self.link.fault(cut.toxic, request: self.queries, outcome: "dropped after COMMIT (reply withheld)")
                    self.link.drop(reset: cut.reset)
                }
                continue
            }
            out.writeImmutableBuffer(message)
            let event: PostgresEvent?
            switch type {
            case UInt8(ascii: "D"): event = .dataRow
            case UInt8(ascii: "Z"):
                event = .readyForQuery(status: message.getInteger(at: message.readerIndex + 5, as: UInt8.self) ?? 0)
            default: event = nil
            }
            if let event, case (let toxic, .drop(let reset, let outcome))? = self.react(event, query: self.queries) {
                self.link.fault(toxic, request: self.queries, outcome: outcome)
                self.endAfterForwarding(reset: reset)
            }
        }
    }

    /// Drops the link once what is already in `out` has been delivered (the `defer` above).
    private func endAfterForwarding(reset: Bool) {
        let link = self.link
        link.client.eventLoop.assumeIsolated().execute { link.drop(reset: reset) }
        self.ended = true
    }

    // MARK: - Wire format

    private static func cString(_ buffer: ByteBuffer, at offset: Int) -> String? {
        let view = buffer.readableBytesView
        guard offset <= view.count, let end = view.dropFirst(offset).firstIndex(of: 0) else { return nil }
        return String(decoding: view[(view.startIndex + offset)..<end], as: UTF8.self)
    }

    static func isCommit(_ sql: String) -> Bool {
        let word = sql.drop(while: { $0.isWhitespace }).prefix(while: { $0.isLetter }).uppercased()
        return word == "COMMIT" || word == "END"
    }

    /// An ErrorResponse message: severity, SQLSTATE and message fields.
    static func errorResponse(_ reply: PostgresErrorReply) -> ByteBuffer {
        let severity = reply.fatal ? "FATAL" : "ERROR"
        var payload = ByteBuffer()
        for (code, value) in [("S", severity), ("V", severity), ("C", reply.sqlstate), ("M", reply.message)] {
            payload.writeString(code)
            payload.writeString(value)
            payload.writeInteger(UInt8(0))
        }
        payload.writeInteger(UInt8(0))
        var message = ByteBuffer()
        message.writeInteger(UInt8(ascii: "E"))
        message.writeInteger(UInt32(4 + payload.readableBytes))
        message.writeBuffer(&payload)
        return message
    }
}

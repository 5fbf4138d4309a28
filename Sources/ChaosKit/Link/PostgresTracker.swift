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
    private var pendingError: (LinkToxic, ToxicEffect.PostgresError, Int)?
    private var queries = 0
    /// After a COMMIT went to the server: its reply is swallowed, then the link dropped.
    private var commitCut: LinkToxic?

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

    /// `pg_drop_startup` and `pg_error` with `phase: startup`; true if the connection ends here.
    private func refuseStartup() -> Bool {
        for toxic in self.link.toxics where toxic.applies {
            switch toxic.effect {
            case .pgDropStartup(let reset):
                self.link.fault(toxic, outcome: reset ? "reset at startup" : "closed at startup")
                self.link.drop(reset: reset)
                return true
            case .pgError(let error, startup: true, _, let probability):
                guard self.link.picks(toxic, request: 0, probability: probability) else {
                    self.link.record(toxic, outcome: "skipped")
                    continue
                }
                self.link.fault(toxic, outcome: "FATAL \(error.sqlstate) at startup")
                self.link.inject(Self.errorResponse(PostgresErrorFields(error, fatal: true)))
                self.link.drop(reset: false)
                return true
            default:
                continue
            }
        }
        return false
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

    /// A `pg_error` toxic that picks this query, if any.
    private func pickError(sql: String) -> (LinkToxic, ToxicEffect.PostgresError, Int)? {
        for toxic in self.link.toxics where toxic.applies {
            guard case .pgError(let error, startup: false, let match, let probability) = toxic.effect else { continue }
            guard match.isEmpty || sql.lowercased().contains(match.lowercased()) else { continue }
            guard self.link.picks(toxic, request: self.queries, probability: probability) else {
                self.link.record(toxic, request: self.queries, outcome: "skipped")
                continue
            }
            return (toxic, error, self.queries)
        }
        return nil
    }

    /// Answers a query with the toxic's error. FATAL: the proxy sends the ErrorResponse and ends
    /// the connection, as the server would. ERROR: the server itself raises it (a `DO` block in
    /// place of the query), so its transaction state really is failed and nothing is faked.
    private func answer(_ toxic: LinkToxic, _ error: ToxicEffect.PostgresError, query: Int, into out: inout ByteBuffer)
    {
        self.link.fault(toxic, request: query, outcome: "\(error.fatal ? "FATAL" : "ERROR") \(error.sqlstate)")
        if error.fatal {
            self.link.inject(Self.errorResponse(PostgresErrorFields(error, fatal: true)))
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
        for toxic in self.link.toxics where toxic.applies {
            if case .pgDropAfterCommit = toxic.effect {
                self.commitCut = toxic
                return
            }
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
                    self.link.fault(cut, request: self.queries, outcome: "dropped after COMMIT (reply withheld)")
                    self.link.drop(reset: cut.effect == .pgDropAfterCommit(reset: true))
                }
                continue
            }
            out.writeImmutableBuffer(message)
            if type == UInt8(ascii: "D") {
                self.countRow()
            } else if type == UInt8(ascii: "Z") {
                let status = message.getInteger(at: message.readerIndex + 5, as: UInt8.self) ?? 0
                self.readyForQuery(status: status)
            }
        }
    }

    private func countRow() {
        for toxic in self.link.toxics where toxic.applies {
            guard case .pgDropAfterRows(let rows, let reset) = toxic.effect else { continue }
            toxic.count += 1
            if toxic.count >= rows {
                self.link.fault(toxic, request: self.queries, outcome: "dropped after \(toxic.count) rows")
                self.endAfterForwarding(reset: reset)
                return
            }
        }
    }

    private func readyForQuery(status: UInt8) {
        guard status == UInt8(ascii: "T") else { return }
        for toxic in self.link.toxics where toxic.applies {
            guard case .pgDropInTransaction(let reset) = toxic.effect else { continue }
            self.link.fault(toxic, request: self.queries, outcome: "dropped in transaction")
            self.endAfterForwarding(reset: reset)
            return
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

    /// The fields of an ErrorResponse.
    struct PostgresErrorFields {
        var severity: String
        var sqlstate: String
        var message: String

        init(_ error: ToxicEffect.PostgresError, fatal: Bool) {
            self.severity = fatal ? "FATAL" : "ERROR"
            self.sqlstate = error.sqlstate
            self.message = error.message
        }
    }

    static func errorResponse(_ fields: PostgresErrorFields) -> ByteBuffer {
        var payload = ByteBuffer()
        for (code, value) in [
            ("S", fields.severity), ("V", fields.severity), ("C", fields.sqlstate), ("M", fields.message),
        ] {
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

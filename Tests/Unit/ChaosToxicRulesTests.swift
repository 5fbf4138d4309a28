import NIOCore
import Seeded
import Testing

@testable import ChaosKit

@Suite("Chaos toxic rules (no sockets)")
struct ChaosToxicRulesTests {
    @Test("the event journal keeps the newest events in order, reads from an id, and clears")
    func journalRing() throws {
        let journal = EventJournal(capacity: 3)
        let toxic = try Toxic(type: "latency").validated()
        for connection in 1...5 {
            journal.record(proxy: connection == 4 ? "b" : "a", toxic: toxic, connection: connection, outcome: "applied")
        }
        #expect(journal.events().map(\.id) == [3, 4, 5], "the two oldest made room")
        #expect(journal.events(after: 3).map(\.connection) == [4, 5])
        #expect(journal.events(after: 1).map(\.id) == [3, 4, 5])
        #expect(journal.events(after: 5).isEmpty)
        #expect(journal.events(proxy: "a").map(\.id) == [3, 5])
        journal.clear()
        #expect(journal.events().isEmpty)
        journal.record(proxy: "a", toxic: toxic, connection: 6, outcome: "applied")
        #expect(journal.events().map(\.id) == [6], "ids go on after a clear")
    }

    @Test("defaults are filled in, a number for a string attribute stays a number, unknown keys are refused")
    func validation() throws {
        let toxic = try Toxic(type: "http_status", attributes: ["retry_after": .number(5)]).validated()
        #expect(toxic.attributes["retry_after"] == .number(5), "comes back as the client sent it")
        #expect(toxic.string("retry_after") == "5", "read as its text")
        #expect(toxic.attributes["status"] == .number(503))
        #expect(toxic.attributes["probability"] == .number(1))
        #expect(throws: ProxyRegistry.Failure.self) {
            try Toxic(type: "latency", attributes: ["lag": .number(1)]).validated()
        }
        #expect(throws: ProxyRegistry.Failure.self) { try Toxic(type: "latency", toxicity: 1.5).validated() }
        #expect(throws: ProxyRegistry.Failure.self) {
            try Toxic(type: "http_status", attributes: ["headers": .table(["Bad Name": "x"])]).validated()
        }
    }

    @Test("HTTP matchers: method, path prefix, every query pair")
    func matchers() {
        let matcher = HTTPMatcher(
            method: "get",
            pathPrefix: "/api/character",
            query: ["page=2"],
            probability: 1
        )
        #expect(matcher.matches(method: "GET", target: "/api/character?page=2"))
        #expect(matcher.matches(method: "GET", target: "/api/character/?name=x&page=2"))
        #expect(!matcher.matches(method: "POST", target: "/api/character?page=2"))
        #expect(!matcher.matches(method: "GET", target: "/api/character?page=20"))
        #expect(!matcher.matches(method: "GET", target: "/api?page=2"))
    }

    @Test("pg_error severity follows the SQLSTATE class unless given")
    func severity() throws {
        func fatal(_ attributes: [String: AttributeValue]) throws -> Bool {
            PostgresErrorFault(try Toxic(type: "pg_error", attributes: attributes).validated()).reply.fatal
        }
        #expect(try fatal(["sqlstate": .string("57P01")]))
        #expect(try fatal(["sqlstate": .string("53300")]))
        #expect(try !fatal(["sqlstate": .string("40001")]))
        #expect(try fatal(["sqlstate": .string("40001"), "severity": .string("FATAL")]))
    }

    @Test("COMMIT and END are commits; other statements are not")
    func commits() {
        #expect(PostgresTracker.isCommit("COMMIT"))
        #expect(PostgresTracker.isCommit("  commit;"))
        #expect(PostgresTracker.isCommit("END"))
        #expect(!PostgresTracker.isCommit("COMMITTED_AT"))
        #expect(!PostgresTracker.isCommit("SELECT 'COMMIT'"))
    }

    @Test("an ErrorResponse is framed as the v3 protocol says")
    func errorResponse() throws {
        let reply = PostgresErrorReply(sqlstate: "57P01", message: "bye", fatal: true)
        var buffer = PostgresTracker.errorResponse(reply)
        let type = buffer.readInteger(as: UInt8.self)
        let read = buffer.readInteger(as: UInt32.self)
        #expect(type == UInt8(ascii: "E"))
        let length = try #require(read)
        #expect(Int(length) == buffer.readableBytes + 4)
        #expect(String(buffer: buffer) == "SFATAL\0VFATAL\0C57P01\0Mbye\0\0")
    }

    @Test("every fault kind's defaults validate, and each type name is unique")
    func kinds() throws {
        #expect(FaultKinds.byType.count == FaultKinds.all.count)
        for kind in FaultKinds.all {
            let toxic = try Toxic(type: kind.type).validated()
            #expect(Set(toxic.attributes.keys) == Set(kind.defaults.keys), "\(kind.type)")
        }
    }

    @Test("stream faults shape pieces: limit_data cuts and asks to close, slicer splits, latency shifts")
    func streamShaping() throws {
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        func connection(_ toxic: Toxic) throws -> LinkToxic {
            try #require(LinkToxic(try toxic.validated(), seed: 1, proxy: "p", link: 1))
        }
        var pieces = [StreamPiece(bytes: ByteBuffer(string: "0123456789"), due: start)]
        let limit = try Toxic(type: "limit_data", attributes: ["bytes": .number(4)]).validated()
        #expect(LimitDataFault(limit).shape(&pieces, on: try connection(limit)))
        #expect(pieces.map { String(buffer: $0.bytes) } == ["0123"])

        pieces = [StreamPiece(bytes: ByteBuffer(string: "abcdefgh"), due: start)]
        let slicer = try Toxic(type: "slicer", attributes: ["average_size": .number(3), "delay": .number(1000)])
            .validated()
        #expect(!SlicerFault(slicer).shape(&pieces, on: try connection(slicer)))
        #expect(pieces.map { String(buffer: $0.bytes) } == ["abc", "def", "gh"])
        #expect(pieces.map(\.due) == [start, start + .milliseconds(1), start + .milliseconds(2)])

        let latency = try Toxic(type: "latency", attributes: ["latency": .number(100)]).validated()
        _ = LatencyFault(latency).shape(&pieces, on: try connection(latency))
        #expect(pieces.first?.due == start + .milliseconds(100))
    }

    @Test("derived random streams depend on the path, not on the order they are used in")
    func derivedStreams() {
        var a = SplitMix64(seed: 42, path: ["proxy", "toxic", "1"])
        var b = SplitMix64(seed: 42, path: ["proxy", "toxic", "2"])
        var again = SplitMix64(seed: 42, path: ["proxy", "toxic", "1"])
        let first = a.next()
        #expect(first == again.next())
        #expect(first != b.next())
        var split = SplitMix64(seed: 42, path: ["proxyt", "oxic", "1"])
        #expect(split.next() != first)
    }
}

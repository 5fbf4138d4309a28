import NIOCore
import Seeded
import Testing

@testable import ChaosKit

@Suite("Chaos toxic rules (no sockets)")
struct ChaosToxicRulesTests {
    @Test("defaults are filled in, numbers for string attributes become strings, unknown keys are refused")
    func validation() throws {
        let toxic = try Toxic(type: "http_status", attributes: ["retry_after": .number(5)]).validated()
        #expect(toxic.attributes["retry_after"] == .string("5"))
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
        let matcher = ToxicEffect.HTTPMatcher(
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
            guard
                case .pgError(let error, _, _, _) = ToxicEffect(
                    try Toxic(type: "pg_error", attributes: attributes).validated()
                )
            else { return false }
            return error.fatal
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
        let error = ToxicEffect.PostgresError(sqlstate: "57P01", message: "bye", fatal: true)
        var buffer = PostgresTracker.errorResponse(PostgresTracker.PostgresErrorFields(error, fatal: true))
        let type = buffer.readInteger(as: UInt8.self)
        let read = buffer.readInteger(as: UInt32.self)
        #expect(type == UInt8(ascii: "E"))
        let length = try #require(read)
        #expect(Int(length) == buffer.readableBytes + 4)
        #expect(String(buffer: buffer) == "SFATAL\0VFATAL\0C57P01\0Mbye\0\0")
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

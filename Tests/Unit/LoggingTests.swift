import Foundation
import Logging
import SystemSupport
import Testing

@testable import RickMortyAPI

@Suite("JSON log lines")
struct LoggingTests {
    @Test(
        "timestamps are RFC 3339 UTC with milliseconds, leap days and times before 1970 included",
        arguments: [
            (Int64(0), "1970-01-01T00:00:00.000Z"), (1_795_393_005_123, "2026-11-23T00:16:45.123Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"), (-1, "1969-12-31T23:59:59.999Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59.999Z"), (1_709_164_800_000, "2024-02-29T00:00:00.000Z"),
            (253_402_300_800_000, "10000-01-01T00:00:00.000Z"), (-62_198_755_200_000, "-0001-01-01T00:00:00.000Z"),
        ]
    )
    func timestamp(milliseconds: Int64, expected: String) {
        #expect(StdoutLogHandler.timestamp(unixMilliseconds: milliseconds) == expected)
    }

    @Test(
        "the Date header is RFC 9110's IMF-fixdate, weekday included",
        arguments: [
            (Int64(0), "Thu, 01 Jan 1970 00:00:00 GMT"), (1_796_459_844, "Sat, 05 Dec 2026 08:37:24 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"), (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
        ]
    )
    func httpDate(seconds: Int64, expected: String) {
        #expect(CivilTime(unixSeconds: seconds).httpDate == expected)
    }

    @Test("one JSON object per event with level, message and dotted metadata keys")
    func json() throws {
        let event = LogEvent(
            level: .warning,
            message: "upstream request failed; retrying",
            metadata: [
                "upstream.attempt": "2", "http.status": .stringConvertible(503), "note": "quote \" and\nnewline",
            ],
            source: "App",
            file: #fileID,
            function: #function,
            line: #line
        )
        let bytes = StdoutLogHandler.json(
            event: event,
            label: "rickmorty-api",
            fields: StdoutLogHandler.fields(event.metadata),
            unixMilliseconds: 1_795_393_005_123
        )
        #expect(!bytes.contains(UInt8(ascii: "\n")))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(object["level"] as? String == "warning")
        #expect(object["msg"] as? String == "upstream request failed; retrying")
        #expect(object["upstream.attempt"] as? String == "2")
        #expect(object["http.status"] as? Int == 503)
        #expect(object["note"] as? String == "quote \" and\nnewline")
        #expect(object["ts"] as? String == "2026-11-23T00:16:45.123Z")
    }

    @Test("metadata from the logger, the provider and the event comes out sorted by key, the later source winning")
    func fieldOrder() {
        let fields = StdoutLogHandler.fields(
            ["request_id": "from-logger", "z.last": "logger", "b": "logger"],
            ["b": "provider", "a": "provider"],
            ["request_id": "from-event", "c": .stringConvertible(3)]
        )
        #expect(fields.map(\.key) == ["a", "b", "c", "request_id", "z.last"])
        #expect(fields.map { "\($0.value)" } == ["provider", "provider", "3", "from-event", "logger"])
        #expect(StdoutLogHandler.fields(nil, [:], nil).isEmpty)
    }

    @Test("the access line carries the request id, the client's trace and the request's own fields")
    func accessLine() throws {
        let events = CapturingLogHandler.Events()
        let logger = Logger(label: "test", factory: { _ in CapturingLogHandler(events: events) })
        AccessLog.write(
            logger,
            requestID: "abc-123",
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            method: "GET",
            route: "/characters",
            status: 200,
            seconds: 0.0012345,
            databaseUse: nil
        )
        let line = try #require(events.all.first)
        #expect(line.message == "request")
        #expect(
            line.metadata.mapValues { "\($0)" } == [
                "request_id": "abc-123", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                "parent_span_id": "00f067aa0ba902b7", "http.method": "GET", "http.route": "/characters",
                "http.status": "200", "http.duration_ms": "1.235",
            ]
        )
    }

    @Test("passwords are redacted from logged errors")
    func redaction() {
        struct Failure: Error, CustomStringConvertible {
            let description = "connection to postgres://rm:hunter2@db:5432/rm failed; password=hunter2"
        }
        let text = redacted(Failure())
        #expect(!text.contains("hunter2"))
        #expect(text.contains("postgres://rm:***@db:5432/rm"))
    }
}

import Foundation
import Logging
import Testing

@testable import RickMortyAPI

@Suite("JSON log lines")
struct LoggingTests {
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
        let bytes = StdoutLogHandler.json(event: event, label: "rickmorty-api", metadata: event.metadata ?? [:])
        #expect(!bytes.contains(UInt8(ascii: "\n")))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(object["level"] as? String == "warning")
        #expect(object["msg"] as? String == "upstream request failed; retrying")
        #expect(object["upstream.attempt"] as? String == "2")
        #expect(object["http.status"] as? Int == 503)
        #expect(object["note"] as? String == "quote \" and\nnewline")
        #expect((object["ts"] as? String)?.hasSuffix("Z") == true)
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

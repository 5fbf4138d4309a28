import ArgumentParser
import Foundation
import Native

/// `lab smoke`: the deploy pipeline's check that a running App serves. The chart's `helm test`
/// Pod runs it against the Service, and it works just as well against `lab up`.
///
/// It waits (up to `--timeout`) for `/readyz` to answer 200 and for `/characters` to return
/// characters, then checks once that `/metrics` parses as the Prometheus text format and has the
/// App's request counter. Each check prints one line; the exit status is 0 only if all pass.
struct Smoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that a running App is ready, returns characters and exposes parseable metrics."
    )

    @Option(help: "The App's base URL.") var appURL = "http://127.0.0.1:8000"
    @Option(help: "Seconds to wait for the App to become ready and hold data.") var timeout = 60.0

    func validate() throws {
        guard self.appURL.hasPrefix("http://") || self.appURL.hasPrefix("https://") else {
            throw ValidationError("--app-url must start with http:// or https://, got \(self.appURL)")
        }
        guard self.timeout > 0, self.timeout.isFinite else { throw ValidationError("--timeout must be above 0") }
    }

    func run() throws {
        let base = self.appURL.hasSuffix("/") ? String(self.appURL.dropLast()) : self.appURL
        let deadline = Date().addingTimeInterval(self.timeout)
        let http = CurlHTTPClient()
        let passed = [
            check("GET /readyz", until: deadline) { try Self.ready(http.get("\(base)/readyz", timeout: 5)) },
            check("GET /characters", until: deadline) {
                try Self.characters(http.get("\(base)/characters?page=1&page_size=5", timeout: 5))
            },
            check("GET /metrics", until: nil) { try Self.metrics(http.get("\(base)/metrics", timeout: 5)) },
        ]
        if passed.contains(false) { throw ExitCode(1) }
    }

    /// Runs `body` every half second until it returns or `deadline` passes (once when nil), then
    /// prints one line: `ok` with what it returned, or `FAIL` with its last error.
    private func check(_ name: String, until deadline: Date?, _ body: () throws -> String) -> Bool {
        while true {
            do {
                print("ok   \(name): \(try body())")
                return true
            } catch {
                if let deadline, Date() < deadline {
                    usleep(500_000)
                    continue
                }
                print("FAIL \(name): \((error as? SmokeFailure)?.reason ?? "\(error)")")
                return false
            }
        }
    }

    static func ready(_ exchange: HTTPExchange) throws -> String {
        guard exchange.status == 200 else { throw SmokeFailure("status \(exchange.status), want 200") }
        return "200"
    }

    static func characters(_ exchange: HTTPExchange) throws -> String {
        guard exchange.status == 200 else { throw SmokeFailure("status \(exchange.status), want 200") }
        guard let page = try? JSONDecoder().decode(CharacterPage.self, from: Data(exchange.body)) else {
            throw SmokeFailure("the body is not a page of characters")
        }
        guard page.totalCount > 0, !page.results.isEmpty else {
            throw SmokeFailure("no characters stored yet (total_count \(page.totalCount))")
        }
        return "\(page.totalCount) characters, first \(page.results[0].name)"
    }

    static func metrics(_ exchange: HTTPExchange) throws -> String {
        guard exchange.status == 200 else { throw SmokeFailure("status \(exchange.status), want 200") }
        let samples = try PrometheusText.samples(String(decoding: exchange.body, as: UTF8.self))
        guard samples.contains(where: { $0.hasPrefix("http_requests_total{") }) else {
            throw SmokeFailure("no http_requests_total series")
        }
        return "\(samples.count) samples, http_requests_total present"
    }
}

/// The parts of a `/characters` page the smoke test reads.
private struct CharacterPage: Decodable {
    struct Character: Decodable { let name: String }
    let totalCount: Int
    let results: [Character]

    enum CodingKeys: String, CodingKey {
        case totalCount = "total_count"
        case results
    }
}

struct SmokeFailure: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Just enough of the Prometheus text exposition format (0.0.4) to tell whether a scrape would
/// parse: every line is empty, a `#` comment, or `name{labels} value [timestamp]`.
enum PrometheusText {
    /// The sample lines' `name{labels}` parts, in order; throws on the first malformed line.
    static func samples(_ text: String) throws -> [Substring] {
        var samples: [Substring] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let series = seriesPart(line) else {
                throw SmokeFailure("line \(index + 1) is not a sample: \(line.prefix(120))")
            }
            let rest = line[series.endIndex...].split(separator: " ")
            guard (1...2).contains(rest.count), isSampleValue(rest[0]), rest.count == 1 || Int64(rest[1]) != nil else {
                throw SmokeFailure("line \(index + 1) has no valid value: \(line.prefix(120))")
            }
            samples.append(series)
        }
        guard !samples.isEmpty else { throw SmokeFailure("the exposition has no samples") }
        return samples
    }

    /// `name` or `name{label="value",…}` at the start of `line`, or nil if it is malformed.
    private static func seriesPart(_ line: Substring) -> Substring? {
        let nameEnd = line.firstIndex { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") } ?? line.endIndex
        guard nameEnd > line.startIndex, let first = line.first, !first.isNumber else { return nil }
        guard nameEnd < line.endIndex, line[nameEnd] == "{" else { return line[..<nameEnd] }
        // Labels: walk to the closing brace, skipping quoted values (which may hold `}` or `\"`).
        var index = line.index(after: nameEnd)
        var quoted = false
        while index < line.endIndex {
            let character = line[index]
            if quoted && character == "\\" {
                index = line.index(index, offsetBy: 2, limitedBy: line.endIndex) ?? line.endIndex
                continue
            }
            if character == "\"" { quoted.toggle() }
            if !quoted && character == "}" { return line[...index] }
            index = line.index(after: index)
        }
        return nil
    }

    private static func isSampleValue(_ text: Substring) -> Bool {
        ["+Inf", "-Inf", "NaN"].contains(text) || Double(text) != nil
    }
}

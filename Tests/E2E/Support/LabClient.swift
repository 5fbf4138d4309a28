import Foundation
import NIOHTTP1
import TestSupport

/// What the scenarios ask of the lab, over HTTP only.
extension LabEndpoints {
    /// Every id the App serves, read from one page (the lab stores fewer than 100 characters),
    /// so a refresh between two page reads cannot mix two snapshots.
    func storedIDs() async throws -> [Int] {
        let page = try await fetch("\(self.app)/characters?page=1&page_size=100&sort=id").json
        guard (page["total_count"] as? Int ?? 0) <= 100 else { throw HarnessError("more than one page stored") }
        return ((page["results"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? Int }.sorted()
    }

    /// The ids App should store, according to FakeUpstream.
    func knownAnswer() async throws -> [Int] {
        ((try await fetch("\(self.fakeUpstream)/__admin/known-answer").json["ids"] as? [Int]) ?? []).sorted()
    }

    func healthcheck() async throws -> (status: Int, body: [String: Any]) {
        let result = try await fetch("\(self.app)/healthcheck")
        return (result.status, result.json)
    }

    /// The value of one App metric sample, e.g. `ingest_runs_total{result="success"}`; 0 when absent.
    func metric(_ sample: String) async throws -> Double {
        let text = try await fetch("\(self.app)/metrics").body
        for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1)) ?? .nan
        }
        return 0
    }

    @discardableResult
    func chaos(_ method: HTTPMethod, _ path: String, _ body: String? = nil) async throws -> HTTPResult {
        let headers = self.chaosToken.map { [("Authorization", "Bearer \($0)")] } ?? []
        let result = try await fetch("\(self.chaos)\(path)", method: method, headers: headers, body: body)
        guard result.status < 300 else {
            throw HarnessError("chaos \(method) \(path): \(result.status) \(result.body)")
        }
        return result
    }

    /// Adds a FakeUpstream behaviour (WireMock-style stub).
    func behave(_ json: String) async throws {
        let result = try await fetch("\(self.fakeUpstream)/__admin/behaviors", method: .POST, body: json)
        guard result.status == 201 else { throw HarnessError("behaviour refused: \(result.status) \(result.body)") }
    }

    /// FakeUpstream's journal entries for one path (and query), oldest first.
    func journal(path: String, query: String = "") async throws -> [[String: Any]] {
        let result = try await fetch(
            "\(self.fakeUpstream)/__admin/requests?path=\(path)\(query.isEmpty ? "" : "&\(query)")"
        )
        return result.json["requests"] as? [[String: Any]] ?? []
    }

    /// Back to a healthy lab: no toxics, no behaviours, App ready and healthy with the known answer.
    func restore() async throws {
        try await self.chaos(.POST, "/reset")
        _ = try await fetch("\(self.fakeUpstream)/__admin/behaviors", method: .DELETE)
        let expected = try await self.knownAnswer()
        let healthy = await eventually(timeout: .seconds(90)) {
            guard let health = try? await self.healthcheck(), health.body["status"] as? String == "ok" else {
                return false
            }
            return (try? await self.storedIDs()) == expected
        }
        guard healthy else { throw HarnessError("the lab did not get back to ok with the known answer") }
    }
}

import Foundation
import Testing

@testable import ScenarioKit

/// Explaining failed and slow requests (Explainer.swift): by the fault acting at the time, and
/// first by a decision made on the request's own database connection, read from the App's log.
extension ScenarioEvaluationTests {
    @Test("a failure is explained by a fault acting at the time, and unexplained outside every window")
    func explanations() {
        let windows = [
            Explainer.Window(summary: "cut", from: 10, until: 20, source: "", silent: true),
            Explainer.Window(summary: "latency", from: 22, until: 25, source: "chaos:postgres", silent: false),
        ]
        let decisions = [
            RunReport.Decision(source: "chaos:postgres", time: 22.1, what: "latency connection 3", outcome: "applied")
        ]
        let explainer = Explainer(windows: windows, decisions: decisions, settle: 2, slow: 1)
        #expect(explainer.cause(of: Self.outcome(15, 503)) == "cut")
        #expect(explainer.cause(of: Self.outcome(21.5, nil)) == "cut", "inside the settling time")
        #expect(explainer.cause(of: Self.outcome(23, 200, latency: 1.5)) == "latency")
        #expect(explainer.cause(of: Self.outcome(5, 503)) == nil)
        #expect(explainer.cause(of: Self.outcome(9.999, 503, latency: 0.01)) == "cut", "in flight when the cut came")
        let quiet = Explainer(windows: [windows[1]], decisions: [], settle: 2, slow: 1)
        #expect(quiet.cause(of: Self.outcome(23, 503)) == nil, "a toxic that made no decision explains nothing")
        let findings = explainer.findings([
            Self.outcome(5, 200), Self.outcome(5, 404), Self.outcome(5, 500), Self.outcome(15, 503),
        ])
        #expect(findings.map(\.cause) == [nil, "cut"], "only 5xx, failures and slow requests need explaining")
    }

    @Test("a decision made on the request's own database connection explains it first, and names the connection")
    func connectionExplanations() {
        let windows = [
            Explainer.Window(summary: "latency", from: 22, until: 25, source: "chaos:upstream", silent: false),
            Explainer.Window(summary: "reset", from: 22, until: 25, source: "chaos:postgres", silent: false),
        ]
        let decisions = [
            RunReport.Decision(
                source: "chaos:upstream",
                time: 22.1,
                what: "latency connection 3",
                outcome: "applied",
                client: "127.0.0.1:5001"
            ),
            RunReport.Decision(
                source: "chaos:postgres",
                time: 22.2,
                what: "reset connection 4",
                outcome: "applied",
                client: "127.0.0.1:5002"
            ),
        ]
        let request = Self.outcome(23, 503)
        let explainer = Explainer(
            windows: windows,
            decisions: decisions,
            settle: 2,
            slow: 1,
            connections: [request.requestID: ["127.0.0.1:5009", "127.0.0.1:5002"]]
        )
        let own = explainer.explanation(of: request)
        #expect(own?.cause == "reset" && own?.connection == "127.0.0.1:5002", "not the first window in time")
        let other = explainer.explanation(of: Self.outcome(23.5, 503))
        #expect(other?.cause == "latency" && other?.connection == nil, "no connection known: the time match")
        let findings = explainer.findings([request, Self.outcome(23.5, 503)])
        #expect(findings.map(\.connection) == ["127.0.0.1:5002", nil])
        let after = Statistics.phases(
            Self.scenario(expect: []),
            outcomes: [request, Self.outcome(23.5, 503)],
            findings: findings,
            records: []
        )[2]
        #expect(after.explained == 2 && after.explainedByConnection == 1 && after.unexplained == 0)
    }

    @Test("a local lab's App log gives the connections each request of the run used, once each, in order")
    func connectionsFromTheAppLog() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("lab-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: state.appendingPathComponent("logs"),
            withIntermediateDirectories: true
        )
        defer { try? FileManager.default.removeItem(at: state) }
        let lines = [
            #"{"level":"info","msg":"request","request_id":"scn-ab-1","db.connection":"127.0.0.1:1 [::1]:2"}"#,
            #"{"level":"warning","msg":"database unavailable","request_id":"scn-ab-1","db.connection":"[::1]:2"}"#,
            #"{"level":"info","msg":"request","request_id":"scn-ab-2"}"#,
            #"{"level":"info","msg":"request","request_id":"scn-cd-1","db.connection":"127.0.0.1:3"}"#,
            "not json \"request_id\":\"scn-ab-3\"",
        ]
        try Data(lines.joined(separator: "\n").utf8).write(to: state.appendingPathComponent("logs/app.log"))
        let lab = LocalLab(stateDirectory: state.path)
        #expect(lab.databaseConnections(requestIDPrefix: "scn-ab-") == ["scn-ab-1": ["127.0.0.1:1", "[::1]:2"]])
        #expect(LocalLab(stateDirectory: state.path + "-none").databaseConnections(requestIDPrefix: "scn-").isEmpty)
    }
}

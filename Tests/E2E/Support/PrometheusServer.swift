import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A real Prometheus (Debian's `prometheus` package) scraping the App once a second into a
/// throwaway TSDB, for recording a scenario's metrics the way production would see them.
final class PrometheusServer: Sendable {
    let url: String
    private let process: BackgroundProcess
    private let directory: String

    /// Starts Prometheus scraping `app` and waits until its first scrape succeeded; nil when no
    /// `prometheus` binary is installed.
    static func start(scraping app: String) async throws -> PrometheusServer? {
        guard
            let binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else { return nil }
        guard let target = URL(string: app), let host = target.host, let port = target.port else {
            throw HarnessError("APP_URL \(app) has no host:port")
        }
        let directory = NSTemporaryDirectory() + "rm-prom-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
        global:
          scrape_interval: 1s
          scrape_timeout: 900ms
        scrape_configs:
          - job_name: rickmorty-api
            static_configs:
              - targets: ["\(host):\(port)"]
        """.write(toFile: "\(directory)/prometheus.yml", atomically: true, encoding: .utf8)
        let listen = try freePort()
        let process = try BackgroundProcess([
            binary, "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
            "--web.listen-address=127.0.0.1:\(listen)", "--log.level=warn",
        ])
        let server = PrometheusServer(url: "http://127.0.0.1:\(listen)", process: process, directory: directory)
        let scraping = await eventually(timeout: .seconds(30)) {
            let answer = try? await fetch("\(server.url)/api/v1/query?query=up%7Bjob%3D%22rickmorty-api%22%7D")
            let result = (answer?.json["data"] as? [String: Any])?["result"] as? [[String: Any]]
            return (result?.first?["value"] as? [Any])?.last as? String == "1"
        }
        guard scraping else {
            server.stop()
            throw HarnessError("Prometheus did not scrape \(app):\n\(process.log.suffix(2000))")
        }
        return server
    }

    private init(url: String, process: BackgroundProcess, directory: String) {
        self.url = url
        self.process = process
        self.directory = directory
    }

    /// Every series of `names` between `start` and `end` (Unix seconds), one point per second:
    /// element i holds the values at `start + i`, keyed by `name{labels}` without `job` and
    /// `instance` (the replay adds its own).
    func series(_ names: Set<String>, from start: Double, to end: Double) async throws -> [[String: Double]] {
        var points = [[String: Double]](repeating: [:], count: max(0, Int((end - start).rounded(.down))) + 1)
        for name in names.sorted() {
            let query = "\(self.url)/api/v1/query_range?query=\(name)&start=\(start)&end=\(end)&step=1"
            let data = try await fetch(query).json["data"] as? [String: Any]
            for series in data?["result"] as? [[String: Any]] ?? [] {
                let labels = (series["metric"] as? [String: String] ?? [:])
                    .filter { !["__name__", "job", "instance"].contains($0.key) }
                    .sorted { $0.key < $1.key }
                    .map { "\($0.key)=\"\($0.value)\"" }
                let key = labels.isEmpty ? name : "\(name){\(labels.joined(separator: ","))}"
                for point in series["values"] as? [[Any]] ?? [] {
                    guard let time = point.first as? Double, let text = point.last as? String else { continue }
                    let index = Int((time - start).rounded())
                    if points.indices.contains(index) { points[index][key] = Double(text) }
                }
            }
        }
        return points
    }

    func stop() {
        self.process.signal(SIGTERM)
        self.process.cleanUp()
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}

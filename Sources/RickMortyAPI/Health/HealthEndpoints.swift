import Foundation
import HTTPTypes
import Hummingbird

/// `/readyz` and `/healthcheck`: both read what the background checks recorded; neither touches
/// a dependency.
struct HealthEndpoints<C: Clock>: Sendable where C.Duration == Duration {
    let monitor: HealthMonitor
    let gateway: UpstreamGateway<C>
    let problems: ProblemRenderer
    let backend: String
    let refreshTTL: Duration
    let workerEnabled: Bool
    let wallClock: @Sendable () -> Double

    static var liveBody: ByteBuffer { ByteBuffer(string: #"{"status":"ok"}"#) }
    private static var readyBody: ByteBuffer { ByteBuffer(string: #"{"status":"ready"}"#) }

    func readiness(path: String) throws -> Response {
        if self.monitor.isShuttingDown { throw HTTPFailure.unavailable(detail: "The instance is shutting down.") }
        guard self.monitor.isReady else {
            throw HTTPFailure.unavailable(detail: "The database is not reachable from this instance.")
        }
        return AppResponder<C>.json(.ok, Self.readyBody)
    }

    func report() -> HealthReport {
        HealthReport(
            database: self.monitor.database,
            refresh: self.monitor.refresh,
            backend: self.backend,
            upstreamOK: self.gateway.upstreamOK ?? false,
            upstreamError: self.gateway.upstreamOK == nil
                ? "no upstream request has finished yet" : self.gateway.lastFailure,
            circuit: self.gateway.circuitPhase.rawValue,
            refreshTTL: self.refreshTTL.seconds,
            workerEnabled: self.workerEnabled,
            now: self.wallClock()
        )
    }

    func healthcheck() -> Response {
        let report = self.report()
        var headers = HTTPFields()
        headers[.cacheControl] = "no-store"
        if report.status == .down {
            headers[.retryAfter] = String(self.problems.retryAfterSeconds)
            return AppResponder<C>.json(.serviceUnavailable, ByteBuffer(bytes: report.encoded()), headers: headers)
        }
        return AppResponder<C>.json(.ok, ByteBuffer(bytes: report.encoded()), headers: headers)
    }
}

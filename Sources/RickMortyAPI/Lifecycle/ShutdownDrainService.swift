import Logging
import ServiceLifecycle

/// The first service to hear of a graceful shutdown (it runs last in the group): readiness turns
/// 503 at once, then it waits `drainDelay` so load balancers stop sending before the listener
/// closes; returning hands the shutdown on to the HTTP server, which finishes in-flight requests.
struct ShutdownDrainService: Service {
    let monitor: HealthMonitor
    let drainDelay: Duration
    let logger: Logger

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // Cancelled: the group is going down without a graceful phase.
        }
        self.monitor.beginShutdown()
        self.logger.info(
            "shutdown requested; readiness is now 503",
            metadata: ["drain_delay_seconds": "\(self.drainDelay.seconds)"]
        )
        try? await Task.sleep(for: self.drainDelay)
    }
}

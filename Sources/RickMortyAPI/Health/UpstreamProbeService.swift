import Logging
import ServiceLifecycle

/// Probes the upstream every `interval` through the gateway (so the circuit breaker applies),
/// keeping `upstream_ok` current without any request ever calling the upstream.
struct UpstreamProbeService<C: Clock>: Service where C.Duration == Duration {
    let gateway: UpstreamGateway<C>
    let url: String
    let clock: C
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let before = self.gateway.upstreamOK
                let ok = await self.gateway.probe(self.url)
                if before != ok {
                    if ok {
                        self.logger.info("upstream probe succeeded")
                    } else {
                        self.logger.warning(
                            "upstream probe failed",
                            metadata: [
                                "upstream.circuit": "\(self.gateway.circuitPhase.rawValue)",
                                "upstream.error": "\(self.gateway.lastFailure ?? "unknown")",
                            ]
                        )
                    }
                }
                do { try await self.clock.sleep(for: self.interval) } catch { return }
            }
        }
    }
}

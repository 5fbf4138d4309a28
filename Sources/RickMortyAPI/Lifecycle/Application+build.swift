import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// The running service: its services in dependency order and the shared health state.
struct BuiltApplication: Sendable {
    let services: [any Service]
    let monitor: HealthMonitor
    let metrics: AppMetrics
    let shutdownBudget: Duration
    let logger: Logger

    /// A group that runs every service and shuts down gracefully on `signals`, within the budget
    /// of drain delay plus `SHUTDOWN_GRACE`.
    func serviceGroup(signals: [UnixSignal] = [.sigterm, .sigint]) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(
            services: self.services,
            gracefulShutdownSignals: signals,
            logger: self.logger
        )
        configuration.maximumGracefulShutdownDuration = self.shutdownBudget
        configuration.maximumCancellationDuration = .seconds(2)
        return ServiceGroup(configuration: configuration)
    }
}

/// The composition root: wires configuration and dependencies into services.
/// `onServerRunning` receives the bound port (useful with `PORT=0`).
func buildApplication(
    config: AppConfig,
    dependencies: AppDependencies,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> BuiltApplication {
    let clock = ContinuousClock()
    let logger = dependencies.logger
    let metrics = dependencies.metrics
    let monitor = HealthMonitor()
    let problems = ProblemRenderer(retryAfterSeconds: config.retryAfterSeconds)
    let cache = PageCache(capacity: config.pageCacheMax, ttl: config.pageCacheTTL, clock: clock)
    let policy = RetryPolicy(maxAttempts: config.maxRetries, maxRetryAfter: config.maxRetryAfter)
    let gateway = UpstreamGateway(
        client: dependencies.upstream,
        policy: policy,
        breaker: CircuitBreaker(threshold: config.breakerThreshold, cooldown: config.breakerCooldown),
        clock: clock,
        metrics: metrics,
        logger: logger
    )
    let backend = config.database.backend

    let characters = CharactersEndpoint(store: dependencies.store, cache: cache, metrics: metrics, monitor: monitor)
    let rateLimiter =
        config.rateLimitRPS > 0
        ? RateLimiter(rate: config.rateLimitRPS, burst: config.rateLimitBurst, clock: clock) : nil
    let responder = AppResponder(
        characters: characters,
        health: HealthEndpoints(
            monitor: monitor,
            gateway: gateway,
            problems: problems,
            backend: backend,
            refreshTTL: config.refreshTTL,
            workerEnabled: config.refreshWorkerEnabled,
            wallClock: dependencies.wallClock
        ),
        metrics: metrics,
        problems: problems,
        rateLimiter: rateLimiter
    )
    // `/characters` is answered on the event loop, in front of the responder (CharactersHandler).
    let lane = CharactersHandler.Lane(
        endpoint: characters,
        metrics: metrics,
        problems: problems,
        rateLimiter: rateLimiter,
        logger: logger
    )

    let app = Application(
        responder: responder,
        server: HTTPServerBuilder { respond in AppHTTPChannel(hummingbird: HTTP1Channel(responder: respond), lane: lane)
        },
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: nil),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.port
            logger.info("listening", metadata: ["http.host": "\(config.host)", "http.port": "\(port)"])
            await onServerRunning(port)
        },
        eventLoopGroupProvider: .shared(dependencies.eventLoopGroup),
        logger: logger
    )

    var services: [any Service] = [
        DatabaseService(
            store: dependencies.store,
            backend: backend,
            monitor: monitor,
            cache: cache,
            metrics: metrics,
            clock: clock,
            interval: config.dbProbeInterval,
            logger: logger,
            wallClock: dependencies.wallClock
        ),
        UpstreamProbeService(
            gateway: gateway,
            url: config.upstreamBaseURL,
            clock: clock,
            interval: config.upstreamProbeInterval,
            logger: logger
        ),
    ]
    if config.refreshWorkerEnabled {
        let ingestor = Ingestor(gateway: gateway, baseURL: config.upstreamBaseURL, logger: logger)
        services.append(
            RefreshService(
                store: dependencies.store,
                ingestor: ingestor,
                monitor: monitor,
                cache: cache,
                metrics: metrics,
                clock: clock,
                interval: config.refreshInterval,
                logger: logger,
                wallClock: dependencies.wallClock
            )
        )
    }
    services.append(app)
    services.append(ShutdownDrainService(monitor: monitor, drainDelay: config.shutdownDrainDelay, logger: logger))
    return BuiltApplication(
        services: services,
        monitor: monitor,
        metrics: metrics,
        shutdownBudget: config.shutdownDrainDelay + config.shutdownGrace,
        logger: logger
    )
}

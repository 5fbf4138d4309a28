import Foundation
import Logging
import NIOCore
import NIOPosix

/// What the service is built from. Production passes ``live(config:threadPool:logger:)``; tests
/// build the struct by hand with their own store, upstream client and metrics.
struct AppDependencies: Sendable {
    var store: any CharacterStore
    var upstream: any UpstreamClient
    var metrics: AppMetrics
    var logger: Logger
    /// The event loops that serve HTTP; `/characters` is answered on them (docs/api.md, "Performance").
    var eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    /// Unix time now; stored refresh times and ages use it.
    var wallClock: @Sendable () -> Double = { Date().timeIntervalSince1970 }

    /// The real database and libcurl client; blocking calls go to `threadPool`.
    static func live(
        config: AppConfig,
        threadPool: NIOThreadPool,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) -> AppDependencies {
        AppDependencies(
            store: SQLCharacterStore.make(config: config, threadPool: threadPool, eventLoop: eventLoopGroup.next()),
            upstream: CurlUpstreamClient(timeout: config.requestTimeout, threadPool: threadPool),
            metrics: AppMetrics(),
            logger: logger,
            eventLoopGroup: eventLoopGroup
        )
    }
}

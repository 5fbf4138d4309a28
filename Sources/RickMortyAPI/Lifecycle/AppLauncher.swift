import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SystemSupport

/// What `rickmorty-api` does once its flags are parsed: read the configuration, bootstrap logging,
/// build the service, run it until SIGTERM/SIGINT, and say how it ended as an exit code.
package enum AppLauncher {
    /// Each flag and the variable it overrides.
    package static let flags: [(flag: String, variable: String)] = [
        ("--host", "HOST"), ("--port", "PORT"), ("--database-url", "DATABASE_URL"),
        ("--upstream-base-url", "UPSTREAM_BASE_URL"), ("--log-level", "LOG_LEVEL"), ("--log-format", "LOG_FORMAT"),
    ]

    /// The environment part of `--help`: every variable, its default and meaning.
    package static var environmentHelp: String {
        "Configuration comes from the environment; the flags below override it.\n\nEnvironment (default):\n"
            + AppConfig.settings.map { "  \($0.name) (\($0.defaultText))\n      \($0.meaning)" }.joined(
                separator: "\n"
            )
    }

    /// Runs the service; returns 0 after a clean stop, 1 when a service failed, 2 for invalid
    /// configuration. `overrides` maps variables to the values their flags gave.
    package static func run(environment: [String: String], overrides: [String: String]) async -> Int32 {
        let config: AppConfig
        do {
            config = try AppConfig.load(environment: environment.merging(overrides) { $1 })
        } catch {
            // A value given as a flag is reported under the flag's name.
            let flag = Self.flags.first(where: { $0.variable == error.variable && overrides[$0.variable] != nil })
            let named =
                flag.map { ConfigError(variable: $0.flag, value: error.value, accepted: error.accepted) } ?? error
            FileHandle.standardError.write(Data("rickmorty-api: \(named)\n".utf8))
            return 2
        }
        let format: StdoutLogHandler.Format = config.logFormat == .json ? .json : .text
        LoggingSystem.bootstrap { label in StdoutLogHandler(label: label, format: format, level: config.logLevel) }
        var logger = Logger(label: "rickmorty-api")
        logger.logLevel = config.logLevel

        let threadPool = NIOThreadPool(numberOfThreads: config.dbPoolSize + 4)
        threadPool.start()
        // One event loop per CPU this process may run on (not per CPU of the machine).
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: UsableProcessors.count)
        logger.info(
            "starting",
            metadata: [
                "version": "\(AppMetrics.version)", "db.backend": "\(config.database.backend)",
                "db.url": "\(config.database.redacted)", "upstream.base_url": "\(config.upstreamBaseURL)",
                "http.event_loops": "\(UsableProcessors.count)",
            ]
        )
        let dependencies = AppDependencies.live(
            config: config,
            threadPool: threadPool,
            eventLoopGroup: eventLoops,
            logger: logger
        )
        let app = buildApplication(config: config, dependencies: dependencies)
        var failed = false
        do {
            try await app.serviceGroup().run()
        } catch {
            failed = true
            let setting = overrides["PORT"] == nil ? "PORT" : "--port"
            if let sentence = BindFailure.explain(error, host: config.host, port: config.port, setting: setting) {
                logger.error("cannot listen", metadata: ["error": "\(sentence)"])
                FileHandle.standardError.write(Data("rickmorty-api: \(sentence)\n".utf8))
            } else {
                logger.error("stopped by an error", metadata: ["error": "\(redacted(error))"])
            }
        }
        try? await threadPool.shutdownGracefully()
        try? await eventLoops.shutdownGracefully()
        logger.info("stopped")
        // A supervisor (Kubernetes, the lab) must see that this was not a clean stop.
        return failed ? 1 : 0
    }
}

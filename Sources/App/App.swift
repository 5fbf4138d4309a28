import ArgumentParser
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import SystemSupport

#if canImport(Glibc)
import Glibc
#endif

/// `rickmorty-api`: reads the configuration, builds the service and runs it until SIGTERM/SIGINT.
@main
struct AppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rickmorty-api",
        abstract: "Serves Human, Alive, Earth-born Rick and Morty characters from SQLite or PostgreSQL.",
        discussion: "Configuration comes from the environment; the flags below override it.\n\nEnvironment (default):\n"
            + AppConfig.variables.map { "  \($0.name) (\($0.defaultValue))\n      \($0.meaning)" }.joined(
                separator: "\n"
            )
    )

    @Option(help: "Overrides HOST.") var host: String?
    @Option(help: "Overrides PORT.") var port: String?
    @Option(name: .customLong("database-url"), help: "Overrides DATABASE_URL.") var databaseURL: String?
    @Option(name: .customLong("upstream-base-url"), help: "Overrides UPSTREAM_BASE_URL.") var upstreamBaseURL: String?
    @Option(name: .customLong("log-level"), help: "Overrides LOG_LEVEL.") var logLevel: String?
    @Option(name: .customLong("log-format"), help: "Overrides LOG_FORMAT.") var logFormat: String?

    /// Each flag and the variable it overrides.
    static let flags: [(flag: String, variable: String)] = [
        ("--host", "HOST"), ("--port", "PORT"), ("--database-url", "DATABASE_URL"),
        ("--upstream-base-url", "UPSTREAM_BASE_URL"), ("--log-level", "LOG_LEVEL"), ("--log-format", "LOG_FORMAT"),
    ]

    func run() async throws {
        var environment = ProcessInfo.processInfo.environment
        let overrides = [
            "HOST": self.host, "PORT": self.port, "DATABASE_URL": self.databaseURL,
            "UPSTREAM_BASE_URL": self.upstreamBaseURL, "LOG_LEVEL": self.logLevel, "LOG_FORMAT": self.logFormat,
        ].compactMapValues { $0 }
        environment.merge(overrides) { $1 }

        let config: AppConfig
        do {
            config = try AppConfig.load(environment: environment)
        } catch {
            // A value given as a flag is reported under the flag's name.
            let flag = Self.flags.first(where: { $0.variable == error.variable && overrides[$0.variable] != nil })
            let named =
                flag.map { ConfigError(variable: $0.flag, value: error.value, accepted: error.accepted) } ?? error
            FileHandle.standardError.write(Data("rickmorty-api: \(named)\n".utf8))
            throw ExitCode(2)
        }
        let format: StdoutLogHandler.Format = config.logFormat == .json ? .json : .text
        LoggingSystem.bootstrap { label in StdoutLogHandler(label: label, format: format, level: config.logLevel) }
        var logger = Logger(label: "rickmorty-api")
        logger.logLevel = config.logLevel

        let threadPool = NIOThreadPool(numberOfThreads: config.dbPoolSize + 4)
        threadPool.start()

        logger.info(
            "starting",
            metadata: [
                "version": "\(AppMetrics.version)", "db.backend": "\(config.database.backend)",
                "db.url": "\(config.database.redacted)", "upstream.base_url": "\(config.upstreamBaseURL)",
            ]
        )
        let dependencies = AppDependencies.live(config: config, threadPool: threadPool, logger: logger)
        let app = buildApplication(config: config, dependencies: dependencies)
        var failure: (any Error)?
        do {
            try await app.serviceGroup().run()
        } catch {
            failure = error
            let setting = self.port == nil ? "PORT" : "--port"
            if let sentence = BindFailure.explain(error, host: config.host, port: config.port, setting: setting) {
                logger.error("cannot listen", metadata: ["error": "\(sentence)"])
                FileHandle.standardError.write(Data("rickmorty-api: \(sentence)\n".utf8))
            } else {
                logger.error("stopped by an error", metadata: ["error": "\(redacted(error))"])
            }
        }
        try? await threadPool.shutdownGracefully()
        logger.info("stopped")
        // A supervisor (Kubernetes, the lab) must see that this was not a clean stop.
        if failure != nil { throw ExitCode.failure }
    }
}

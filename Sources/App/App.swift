import ArgumentParser
import Foundation
import RickMortyAPI

/// `rickmorty-api`: parses the flags and hands over to ``AppLauncher``.
@main
struct AppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rickmorty-api",
        abstract: "Serves Human, Alive, Earth-born Rick and Morty characters from SQLite or PostgreSQL.",
        discussion: AppLauncher.environmentHelp
    )

    @Option(help: "Overrides HOST.") var host: String?
    @Option(help: "Overrides PORT.") var port: String?
    @Option(name: .customLong("database-url"), help: "Overrides DATABASE_URL.") var databaseURL: String?
    @Option(name: .customLong("upstream-base-url"), help: "Overrides UPSTREAM_BASE_URL.") var upstreamBaseURL: String?
    @Option(name: .customLong("log-level"), help: "Overrides LOG_LEVEL.") var logLevel: String?
    @Option(name: .customLong("log-format"), help: "Overrides LOG_FORMAT.") var logFormat: String?

    func run() async throws {
        let overrides = [
            "HOST": self.host, "PORT": self.port, "DATABASE_URL": self.databaseURL,
            "UPSTREAM_BASE_URL": self.upstreamBaseURL, "LOG_LEVEL": self.logLevel, "LOG_FORMAT": self.logFormat,
        ].compactMapValues { $0 }
        let status = await AppLauncher.run(environment: ProcessInfo.processInfo.environment, overrides: overrides)
        if status != 0 { throw ExitCode(status) }
    }
}

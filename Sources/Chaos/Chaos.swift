import ArgumentParser
import ChaosKit
import Foundation
import Logging
import ServiceLifecycle
import SystemSupport
import UnixSignals

/// `chaos`: a Toxiproxy-compatible chaos proxy. Without a subcommand it is the server (`serve`,
/// the default); `proxy` and `toxic` are a client for a running server (like `toxiproxy-cli`).
@main
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "A chaos proxy with a Toxiproxy-compatible control API, HTTP- and PostgreSQL-aware toxics.",
        subcommands: [ServeCommand.self, ProxyCommand.self, ToxicCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}

/// The server: `chaos [serve] --host … --port … --config … --seed … --token …`.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the chaos server (the default when no subcommand is given).",
        discussion: """
            Without a subcommand, runs the server. Environment: CHAOS_TOKEN (same as --token).
            Config file: a JSON array of proxies as in Toxiproxy ({"name","listen","upstream","enabled"}),
            each of which may also have "toxics": [{"type","name","stream","toxicity","attributes","ttl"}].
            """
    )

    @Option(help: "Address of the control API (not loopback: a token is required).") var host = "127.0.0.1"
    @Option(help: "Port of the control API.") var port = 8474
    @Option(help: "JSON file of proxies (and toxics) to create at startup.") var config: String?
    @Option(help: "Seed for every random decision (toxicity, probabilities, jitter).") var seed: UInt64 = 0
    @Option(help: "Event loop threads (default: one per core).") var threads: Int?
    @Option(help: "Bearer token required for requests that change state (default: $CHAOS_TOKEN).")
    var token: String?

    private var effectiveToken: String? {
        self.token ?? ProcessInfo.processInfo.environment["CHAOS_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func validate() throws {
        guard (0...65535).contains(self.port) else { throw ValidationError("--port must be from 0 to 65535") }
        if let threads = self.threads, !(1...256).contains(threads) {
            throw ValidationError("--threads must be from 1 to 256")
        }
        if !ChaosServer.isLoopback(self.host) && self.effectiveToken == nil {
            throw ValidationError("--host \(self.host) is not loopback: set --token or CHAOS_TOKEN")
        }
    }

    func run() async throws {
        var logger = Logger(label: "chaos")
        logger.logLevel = .warning
        let server = ChaosServer(
            host: self.host,
            port: self.port,
            token: self.effectiveToken,
            seed: self.seed,
            threads: self.threads
        )
        if let config = self.config {
            do {
                try await server.registry.load(configFile: config)
            } catch {
                await server.registry.stopAll()
                throw ValidationError("--config \(config): \(error)")
            }
        }
        let host = self.host
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    server.service(logger: logger) { port in
                        // Unbuffered, so a supervisor reading a pipe sees it at once.
                        FileHandle.standardOutput.write(Data("chaos control API on http://\(host):\(port)\n".utf8))
                    }
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            await server.registry.stopAll()
            guard let sentence = BindFailure.explain(error, host: host, port: self.port, setting: "--port") else {
                throw error
            }
            FileHandle.standardError.write(Data("chaos: \(sentence)\n".utf8))
            throw ExitCode.failure
        }
        await server.registry.stopAll()
    }
}

import ArgumentParser
import ChaosKit
import Logging
import ServiceLifecycle
import UnixSignals

/// `chaos`: a Toxiproxy-compatible chaos proxy. Without a subcommand it is the server.
@main
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "A chaos proxy with a Toxiproxy-compatible control API (proxies only so far; toxics are coming)."
    )

    @Option(help: "Address of the control API.") var host = "127.0.0.1"
    @Option(help: "Port of the control API.") var port = 8474

    func validate() throws {
        guard (0...65535).contains(self.port) else { throw ValidationError("--port must be from 0 to 65535") }
    }

    func run() async throws {
        let logger = Logger(label: "chaos")
        let server = ChaosServer(host: self.host, port: self.port)
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    server.service(logger: logger) { port in print("chaos control API on http://\(self.host):\(port)") }
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        await server.registry.stopAll()
    }
}

import ArgumentParser
import FakeUpstreamKit
import Foundation
import Logging
import ServiceLifecycle
import SystemSupport
import UnixSignals

/// `fake-upstream`: the Rick and Morty API, deterministic and misbehaving on command.
@main
struct FakeUpstreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-upstream",
        abstract: "A faithful imitation of the Rick and Morty character API that misbehaves on command."
    )

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 = any free port).") var port = 8080
    @Option(help: "Number of generated characters.") var characters = 826
    @Option(help: "Seed for the dataset and every random decision.") var seed: UInt64 = 1
    @Option(help: "Serve the characters in this JSON file (an array in the API's schema) instead.") var data: String?
    @Option(help: "A JSON file of behaviours active from the start: {\"behaviors\": [...]}.") var config: String?
    @Option(name: .customLong("public-base-url"), help: "Base URL for next/prev links (default: from the Host header).")
    var publicBaseURL: String?
    @Flag(name: .customLong("admin-anywhere"), help: "Answer the admin API from any address, not only loopback.")
    var adminAnywhere = false
    @Flag(name: .customLong("known-answer"), help: "Print the ids App should store, one per line, and exit.")
    var knownAnswer = false

    func validate() throws {
        guard (0...65535).contains(self.port) else { throw ValidationError("--port must be from 0 to 65535") }
        guard (0...5_000_000).contains(self.characters) else {
            throw ValidationError("--characters must be from 0 to 5000000")
        }
    }

    func run() async throws {
        let dataset =
            try self.data.map { try CharacterDataset.load(path: $0) }
            ?? CharacterDataset.generate(count: self.characters, seed: self.seed)
        if self.knownAnswer {
            print(dataset.knownAnswer.map(String.init).joined(separator: "\n"))
            return
        }
        var configuration = FakeUpstreamConfiguration()
        configuration.host = self.host
        configuration.port = self.port
        configuration.seed = self.seed
        configuration.publicBaseURL = self.publicBaseURL
        configuration.adminFromAnywhere = self.adminAnywhere
        if let path = self.config {
            do {
                configuration.behaviors = try Behavior.decodeConfig(json: Data(contentsOf: URL(fileURLWithPath: path)))
            } catch let error as BehaviorError {
                throw ValidationError("invalid --config \(path): \(error.message)")
            }
        }
        let server: FakeUpstreamServer
        do {
            server = try FakeUpstreamServer(dataset: dataset, configuration: configuration)
        } catch {
            throw ValidationError("invalid behaviour in --config: \(error.message)")
        }
        var logger = Logger(label: "fake-upstream")
        logger.logLevel = .info
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    server.service(logger: logger) { port in
                        print("fake-upstream listening on http://\(self.host):\(port)/api")
                    }
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            let sentence = BindFailure.explain(error, host: self.host, port: self.port, setting: "--port")
            guard let sentence else { throw error }
            FileHandle.standardError.write(Data("fake-upstream: \(sentence)\n".utf8))
            throw ExitCode.failure
        }
    }
}

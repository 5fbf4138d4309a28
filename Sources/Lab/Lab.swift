import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `lab`: brings the whole reliability lab up on loopback (PostgreSQL, FakeUpstream, Chaos with
/// two proxies, App through both), or takes it down.
@main
struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract:
            "Run the reliability lab: PostgreSQL, fake-upstream, chaos and rickmorty-api, wired together on loopback.",
        subcommands: [Up.self, Down.self, Smoke.self, ScenarioCommand.self]
    )
}

/// Options shared by `up` and `down`.
struct StateOptions: ParsableArguments {
    @Option(help: "Where the lab keeps its state (database, logs, lab.json).") var stateDir = ".lab"

    var directory: String {
        URL(fileURLWithPath: self.stateDir, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            .standardizedFileURL.path
    }
}

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the lab, print its URLs, stream the App's logs; Ctrl-C stops everything it started."
    )

    @OptionGroup var state: StateOptions
    @Option(help: "App port (0 = any free port).") var appPort = 8000
    @Option(help: "Chaos control API port.") var chaosPort = 8474
    @Option(help: "FakeUpstream port.") var fakeUpstreamPort = 8081
    @Option(help: "PostgreSQL port.") var postgresPort = 55432
    @Option(help: "Chaos proxy port in front of FakeUpstream.") var upstreamProxyPort = 28081
    @Option(help: "Chaos proxy port in front of PostgreSQL.") var postgresProxyPort = 25432
    @Option(help: "Characters FakeUpstream generates.") var characters = 826
    @Option(help: "Seed for FakeUpstream's data and for Chaos's decisions.") var seed: UInt64 = 1
    @Flag(help: "Use SQLite even when PostgreSQL is installed (database faults then have nothing to act on).")
    var sqlite = false

    func validate() throws {
        let ports = [
            self.appPort, self.chaosPort, self.fakeUpstreamPort, self.postgresPort, self.upstreamProxyPort,
            self.postgresProxyPort,
        ]
        guard ports.allSatisfy({ (0...65535).contains($0) }) else {
            throw ValidationError("ports must be from 0 to 65535")
        }
        guard self.characters > 0 else { throw ValidationError("--characters must be at least 1") }
    }

    func run() throws {
        do {
            try LabStack(options: self).run()
        } catch let error as LabError {
            FileHandle.standardError.write(Data("lab: \(error.description)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct Down: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop a lab started by `lab up` (and nothing else).")

    @OptionGroup var state: StateOptions

    func run() throws {
        do {
            try LabStack.down(stateDirectory: self.state.directory)
        } catch let error as LabError {
            FileHandle.standardError.write(Data("lab: \(error.description)\n".utf8))
            throw ExitCode(1)
        }
    }
}

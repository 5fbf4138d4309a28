import Foundation
import SystemSupport

#if canImport(Glibc)
import Glibc
#endif

/// A program the lab started.
struct ChildProcess {
    let name: String
    let pid: pid_t

    /// Starts `arguments` with extra environment variables in its own process group (a Ctrl-C
    /// reaches the lab, which stops the children in order); stdout and stderr are appended to
    /// `log`, or go to the lab's own terminal when `log` is nil.
    static func start(
        _ name: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        log: String?
    ) throws -> ChildProcess {
        do {
            let pid = try Spawn.start(
                arguments,
                environment: environment,
                output: log.map { .append($0) } ?? .inherit,
                newProcessGroup: true
            )
            return ChildProcess(name: name, pid: pid)
        } catch {
            throw LabError("\(name): \(error)")
        }
    }

    /// Runs a command to completion; returns its exit status and output.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        do { return try Spawn.run(arguments) } catch { throw LabError("\(error)") }
    }

    /// The exit status if the process has exited, without blocking.
    func exited() -> Int32? { Spawn.exited(self.pid) }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    func stop(grace: Double) -> Int32 { Spawn.terminate(self.pid, grace: grace) }
}

/// A failure the lab reports as one line and exits on.
struct LabError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

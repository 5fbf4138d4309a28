import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A program the lab started: spawned with posix_spawn (Foundation's Process can miss the exit of
/// a child whose own children live on, as pg_ctl's server does), its output appended to a log file.
struct ChildProcess {
    let name: String
    let pid: pid_t

    /// Starts `arguments` with extra environment variables; stdout and stderr go to `log`
    /// (appended), or to the lab's own terminal when `log` is nil.
    static func start(
        _ name: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        log: String?
    ) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let log {
            posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group: a Ctrl-C in the terminal reaches the lab, which stops the
        // children in order, rather than every child at once.
        posix_spawnattr_setpgroup(&attributes, 0)
        // A clean signal state whatever the lab inherited: SIGTERM must reach each program.
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(
            &attributes,
            Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        )
        var variables = ProcessInfo.processInfo.environment
        variables.merge(environment) { $1 }
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw LabError("cannot start \(name) (\(arguments[0])): \(String(cString: strerror(spawned)))")
        }
        return ChildProcess(name: name, pid: pid)
    }

    /// Runs a command to completion; returns its exit status and output.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let log = NSTemporaryDirectory() + "lab-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let child = try ChildProcess.start(arguments[0], arguments, log: log)
        let status = child.wait()
        return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    /// Blocks until the process exits; its exit status (128 + signal when killed).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(self.pid, &status, 0) < 0 && errno == EINTR {}
        return Self.decode(status)
    }

    /// The exit status if the process has exited, without blocking.
    func exited() -> Int32? {
        var status: Int32 = 0
        return waitpid(self.pid, &status, WNOHANG) == self.pid ? Self.decode(status) : nil
    }

    private static func decode(_ status: Int32) -> Int32 {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    func stop(grace: Double) -> Int32 {
        kill(self.pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline {
            if let status = self.exited() { return status }
            usleep(20_000)
        }
        kill(self.pid, SIGKILL)
        return self.wait()
    }
}

/// A failure the lab reports as one line and exits on.
struct LabError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

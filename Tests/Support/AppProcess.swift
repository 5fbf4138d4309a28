import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A program the tests started, spawned with posix_spawn (Foundation's Process can miss the exit
/// of a child whose own children live on). Its output goes to a file the test can read.
public class BackgroundProcess: @unchecked Sendable {
    public let pid: pid_t
    public let logPath: String
    /// The exit status once collected; the pid (which the system may reuse) is not signalled again.
    private var exitStatus: Int32?
    private var exited: Bool { self.exitStatus != nil }

    /// The folder `swift build` puts the executables in (`.build/debug`), or `RICKMORTY_BIN_DIR`.
    public static var binaries: String {
        if let path = ProcessInfo.processInfo.environment["RICKMORTY_BIN_DIR"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug").path
    }

    public init(_ command: [String], environment: [String: String] = [:]) throws {
        self.logPath = NSTemporaryDirectory() + "rm-proc-\(UUID().uuidString.prefix(8)).log"
        var variables = ProcessInfo.processInfo.environment
        variables.merge(environment) { $1 }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, self.logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        // A clean signal state: the test runner's blocked or ignored signals are not inherited,
        // so SIGTERM reaches the child as it would from a supervisor.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw HarnessError("cannot start \(command[0]): errno \(spawned)") }
        self.pid = pid
    }

    public func signal(_ signal: Int32) {
        if !self.exited { kill(self.pid, signal) }
    }

    /// Waits up to `timeout` for the process to exit; returns its exit code, or nil if it still runs.
    public func waitForExit(timeout: Duration) async -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            if waitpid(self.pid, &status, WNOHANG) == self.pid {
                let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                self.exitStatus = code
                return code
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    public var log: String { (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? "" }

    /// Kills the process if it still runs and removes its log.
    public func cleanUp() {
        if !self.exited {
            kill(self.pid, SIGKILL)
            var status: Int32 = 0
            waitpid(self.pid, &status, 0)
        }
        try? FileManager.default.removeItem(atPath: self.logPath)
    }
}

/// The real `rickmorty-api` executable on a free loopback port, for what only a process can show
/// (signals, exit codes).
public final class AppProcess: BackgroundProcess, @unchecked Sendable {
    public let port: Int

    public var baseURL: String { "http://127.0.0.1:\(self.port)" }

    /// `.build/debug/rickmorty-api`, or `RICKMORTY_API_BIN`.
    public static var executable: String {
        ProcessInfo.processInfo.environment["RICKMORTY_API_BIN"] ?? "\(Self.binaries)/rickmorty-api"
    }

    public init(environment: [String: String]) throws {
        let port = try freePort()
        self.port = port
        var variables = environment
        variables["HOST"] = "127.0.0.1"
        variables["PORT"] = String(port)
        try super.init([Self.executable], environment: variables)
    }
}

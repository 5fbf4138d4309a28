import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The real `rickmorty-api` executable as a child process, for what only a process can show
/// (signals, exit codes). Its output goes to a file the test can read.
final class AppProcess: @unchecked Sendable {
    let pid: pid_t
    let port: Int
    let logPath: String

    var baseURL: String { "http://127.0.0.1:\(self.port)" }

    /// The executable built next to the tests (`.build/debug/rickmorty-api`), or `RICKMORTY_API_BIN`.
    static var executable: String {
        if let path = ProcessInfo.processInfo.environment["RICKMORTY_API_BIN"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/rickmorty-api").path
    }

    init(environment: [String: String]) throws {
        self.port = try freePort()
        self.logPath = NSTemporaryDirectory() + "rm-app-\(UUID().uuidString.prefix(8)).log"
        var variables = ProcessInfo.processInfo.environment
        variables.merge(environment) { $1 }
        variables["HOST"] = "127.0.0.1"
        variables["PORT"] = String(self.port)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, self.logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(Self.executable), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, Self.executable, &actions, nil, argv, envp)
        guard spawned == 0 else { throw HarnessError("cannot start \(Self.executable): errno \(spawned)") }
        self.pid = pid
    }

    func signal(_ signal: Int32) {
        kill(self.pid, signal)
    }

    /// Waits up to `timeout` for the process to exit; returns its exit code, or nil if it still runs.
    func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            if waitpid(self.pid, &status, WNOHANG) == self.pid {
                return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    var log: String { (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? "" }

    /// Kills the process if it still runs and removes its log.
    func cleanUp() {
        kill(self.pid, SIGKILL)
        var status: Int32 = 0
        waitpid(self.pid, &status, 0)
        try? FileManager.default.removeItem(atPath: self.logPath)
    }
}

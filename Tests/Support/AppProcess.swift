import Foundation
import SystemSupport

#if canImport(Glibc)
import Glibc
#endif

/// A program the tests started (``Spawn``), with its output in a file the test can read.
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
        self.pid = try Spawn.start(command, environment: environment, output: .replace(self.logPath))
    }

    public func signal(_ signal: Int32) {
        if !self.exited { kill(self.pid, signal) }
    }

    /// Waits up to `timeout` for the process to exit; returns its exit code, or nil if it still runs.
    public func waitForExit(timeout: Duration) async -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let code = Spawn.exited(self.pid) {
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
            _ = Spawn.wait(self.pid)
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

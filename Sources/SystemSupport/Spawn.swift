import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starting programs with posix_spawn: Foundation's Process can miss the exit of a child whose
/// own children live on (pg_ctl's server does), and a file, not a pipe, takes the output for the
/// same reason. Used by `lab` and by the test suites.
public enum Spawn {
    /// Where a child's stdout and stderr go.
    public enum Output: Sendable {
        /// The parent's own stdout and stderr.
        case inherit
        /// Appended to a file (created if missing).
        case append(String)
        /// The file, emptied first.
        case replace(String)
    }

    /// Starts `command` (looked up on PATH if it has no slash) with the parent's environment
    /// plus `environment`. The child starts with no blocked signals and default handlers for
    /// SIGTERM, SIGINT, SIGHUP and SIGPIPE, whatever the parent blocked or ignored, so a
    /// supervisor's SIGTERM always reaches it. `newProcessGroup` keeps a terminal's Ctrl-C from
    /// reaching it directly.
    public static func start(
        _ command: [String],
        environment: [String: String] = [:],
        output: Output = .inherit,
        newProcessGroup: Bool = false
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // Nothing but the three standard streams: an inherited socket would keep a connection of
        // ours open (a client's keep-alive, a proxied database connection) for the child's life.
        Self.closeFrom(3, &actions)
        switch output {
        case .inherit:
            break
        case .append(let path):
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        case .replace(let path):
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
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
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            flags |= POSIX_SPAWN_SETPGROUP
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var variables = ProcessInfo.processInfo.environment
        variables.merge(environment) { $1 }
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, command[0], &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw SpawnError(description: "cannot start \(command[0]): \(String(cString: strerror(spawned)))")
        }
        return pid
    }

    /// Runs `command` to completion; its exit status and everything it printed.
    public static func run(
        _ command: [String],
        environment: [String: String] = [:]
    ) throws -> (status: Int32, output: String) {
        let path = NSTemporaryDirectory() + "spawn-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pid = try Self.start(command, environment: environment, output: .replace(path))
        let status = Self.wait(pid)
        return (status, (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }

    /// Blocks until `pid` exits; its exit status.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return Self.exitStatus(status)
    }

    /// The exit status if `pid` has exited, without blocking.
    public static func exited(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid ? Self.exitStatus(status) : nil
    }

    /// SIGTERM, then SIGKILL if `pid` has not exited within `grace` seconds; its exit status.
    @discardableResult
    public static func terminate(_ pid: pid_t, grace: Double) -> Int32 {
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline {
            if let status = Self.exited(pid) { return status }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        return Self.wait(pid)
    }

    /// A wait status as a shell shows it: the exit code, or 128 + the signal that killed it
    /// (WIFEXITED and WEXITSTATUS are macros Swift cannot call).
    public static func exitStatus(_ status: Int32) -> Int32 {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public let description: String
}

/// Loopback TCP ports.
public enum LocalPorts {
    /// Whether 127.0.0.1:`port` can be bound right now.
    public static func isFree(_ port: Int) -> Bool {
        Self.bound(port) != nil
    }

    /// A port on 127.0.0.1 that was free a moment ago.
    public static func free() throws -> Int {
        guard let port = Self.bound(0), port > 0 else { throw SpawnError(description: "no free port on 127.0.0.1") }
        return port
    }

    /// 127.0.0.1:`port` as a socket address.
    public static func address(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// Calls `body` with `address` as the `sockaddr` pointer and length that bind and connect take.
    public static func withAddress<T>(_ address: sockaddr_in, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = address
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// Binds 127.0.0.1:`port`, reads the port back and closes; nil when the bind fails.
    private static func bound(_ port: Int) -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = Self.address(port)
        let bound = Self.withAddress(address) { bind(fd, $0, $1) }
        guard bound == 0 else { return nil }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

extension Spawn {
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc
    /// module does not declare: looked up once by name.
    private static let addCloseFrom: CloseFrom? = dlsym(
        UnsafeMutableRawPointer(bitPattern: 0),  // RTLD_DEFAULT
        "posix_spawn_file_actions_addclosefrom_np"
    ).map { unsafeBitCast($0, to: CloseFrom.self) }

    /// Has the child close every descriptor from `lowest` up; on an older glibc, the ones open now.
    fileprivate static func closeFrom(_ lowest: Int32, _ actions: inout posix_spawn_file_actions_t) {
        if let addCloseFrom = Self.addCloseFrom, addCloseFrom(&actions, lowest) == 0 { return }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap(Int32.init) where fd >= lowest {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
    }
}

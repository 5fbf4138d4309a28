import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// The HTTP client every test suite uses (redirects are not followed: tests look at them).
public enum TestHTTP {
    public static let client = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: .init(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(30)))
    )
}

/// A plain HTTP exchange for assertions.
public struct HTTPResult: Sendable {
    public let status: Int
    public let headers: HTTPHeaders
    public let body: String

    public init(status: Int, headers: HTTPHeaders, body: String) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(self.body.utf8))) as? [String: Any] ?? [:]
    }
}

/// Sends one request and reads the whole response.
public func fetch(
    _ url: String,
    method: HTTPMethod = .GET,
    headers: [(String, String)] = [],
    body: String? = nil
) async throws -> HTTPResult {
    var request = HTTPClientRequest(url: url)
    request.method = method
    if let body { request.body = .bytes(ByteBuffer(string: body)) }
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    let response = try await TestHTTP.client.execute(request, timeout: .seconds(30))
    let body = try await response.body.collect(upTo: 16 << 20)
    return HTTPResult(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held. Used to wait for
/// background work (an ingest, a health check) to become observable, never as a fixed sleep.
public func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw HarnessError("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Runs a command to completion with posix_spawn and waitpid (Foundation's Process can miss the
/// exit of a child whose own children live on, as pg_ctl's server does). Output goes to a file,
/// not a pipe, for the same reason: the server inherits the descriptor.
public func runCommand(_ command: [String]) throws -> (status: Int32, output: String) {
    let outputPath = NSTemporaryDirectory() + "rm-cmd-\(UUID().uuidString.prefix(8)).out"
    defer { try? FileManager.default.removeItem(atPath: outputPath) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var pid: pid_t = 0
    let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    let spawned = posix_spawn(&pid, command[0], &actions, nil, argv, environ)
    guard spawned == 0 else { throw HarnessError("cannot start \(command[0]): errno \(spawned)") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    // WIFEXITED/WEXITSTATUS are macros; decode the wait status by hand.
    let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (exitStatus, output)
}
/// Starts a command in the background with its output discarded; returns its pid.
public func spawn(_ command: [String]) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, command[0], &actions, nil, argv, environ)
    guard spawned == 0 else { throw HarnessError("cannot start \(command[0]): errno \(spawned)") }
    return pid
}

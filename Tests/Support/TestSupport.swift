import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SystemSupport

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
    try LocalPorts.free()
}

/// Runs a command to completion (posix_spawn and waitpid: Foundation's Process can miss the exit
/// of a child whose own children live on, as pg_ctl's server does).
public func runCommand(_ command: [String]) throws -> (status: Int32, output: String) {
    try Spawn.run(command)
}

/// Starts a command in the background with its output discarded; returns its pid.
public func spawn(_ command: [String]) throws -> pid_t {
    try Spawn.start(command, output: .replace("/dev/null"))
}

import Hummingbird
import Logging
import NIOPosix
import ServiceLifecycle

/// The chaos proxy's control server as a service; tests run it in-process on port 0.
public struct ChaosServer: Sendable {
    public let registry: ProxyRegistry
    public let host: String
    public let port: Int
    /// Required as `Authorization: Bearer …` on requests that change state, when set.
    public let token: String?

    /// - Parameter threads: event loop threads for the proxies and the API; nil = one per core.
    public init(
        host: String = "127.0.0.1",
        port: Int = 8474,
        token: String? = nil,
        seed: UInt64 = 0,
        threads: Int? = nil
    ) {
        self.host = host
        self.port = port
        self.token = token
        let group = threads.map { MultiThreadedEventLoopGroup(numberOfThreads: $0) } ?? .singleton
        self.registry = ProxyRegistry(environment: ProxyEnvironment(seed: seed, group: group))
    }

    /// Whether `host` only accepts connections from this machine.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The control API service; `onServerRunning` receives its bound port.
    public func service(
        logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        Application(
            responder: ControlAPI(registry: self.registry, token: self.token).responder(),
            configuration: .init(address: .hostname(self.host, port: self.port), serverName: nil),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            eventLoopGroupProvider: .shared(self.registry.environment.group),
            logger: logger
        )
    }
}

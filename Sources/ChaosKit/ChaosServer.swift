import Hummingbird
import Logging
import ServiceLifecycle

/// The chaos proxy's control server as a service; tests run it in-process on port 0.
public struct ChaosServer: Sendable {
    public let registry = ProxyRegistry()
    public let host: String
    public let port: Int

    public init(host: String = "127.0.0.1", port: Int = 8474) {
        self.host = host
        self.port = port
    }

    /// The control API service; `onServerRunning` receives its bound port.
    public func service(
        logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        Application(
            responder: ControlAPI(registry: self.registry),
            configuration: .init(address: .hostname(self.host, port: self.port), serverName: nil),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }
}

import Hummingbird
import Logging
import ServiceLifecycle

/// How to run FakeUpstream.
public struct FakeUpstreamConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var seed: UInt64 = 1
    /// Base for `info.next`/`prev` links; by default built from the request's Host header.
    public var publicBaseURL: String?
    /// Answer the admin API from any address, not only loopback.
    public var adminFromAnywhere = false
    /// Behaviours active from the start (the `--config` file's).
    public var behaviors: [Behavior] = []

    public init() {}
}

/// FakeUpstream as a service: tests run it in-process on port 0 and read the port from
/// `onServerRunning`; the `fake-upstream` executable runs the same thing.
public struct FakeUpstreamServer: Sendable {
    public let dataset: CharacterDataset
    public let store: BehaviorStore
    public let configuration: FakeUpstreamConfiguration

    public init(dataset: CharacterDataset, configuration: FakeUpstreamConfiguration) throws(BehaviorError) {
        self.dataset = dataset
        self.configuration = configuration
        self.store = BehaviorStore(seed: configuration.seed)
        for behavior in configuration.behaviors { try self.store.add(behavior) }
    }

    /// The HTTP service; `onServerRunning` receives the bound port.
    public func service(
        logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        let responder = FakeUpstreamResponder(
            api: CharacterAPI(dataset: self.dataset),
            admin: AdminAPI(store: self.store, dataset: self.dataset).responder(),
            store: self.store,
            metrics: FakeUpstreamMetrics(),
            publicBaseURL: self.configuration.publicBaseURL,
            adminFromAnywhere: self.configuration.adminFromAnywhere
        )
        return Application(
            responder: responder,
            configuration: .init(
                address: .hostname(self.configuration.host, port: self.configuration.port),
                serverName: nil
            ),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }
}

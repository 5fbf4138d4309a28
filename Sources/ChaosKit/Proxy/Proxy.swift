import NIOCore
import NIOPosix
import Synchronization

/// One proxy: a listener on `listen` that relays every accepted connection to `upstream`, byte
/// for byte, in both directions (Toxiproxy's model). Disabling it closes the listener and every
/// open connection.
public final class Proxy: Sendable {
    public let name: String
    private let group: any EventLoopGroup
    private let state: Mutex<State>

    private struct State {
        var listen: String
        var upstream: String
        var enabled = false
        var server: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var toxics: [Toxic] = []
    }

    /// Why a proxy could not start.
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(
        name: String,
        listen: String,
        upstream: String,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.name = name
        self.group = group
        self.state = Mutex(State(listen: listen, upstream: upstream))
    }

    /// The address it listens on; after start with port 0, the port actually bound.
    public var listen: String { self.state.withLock { $0.listen } }
    public var upstream: String { self.state.withLock { $0.upstream } }
    public var enabled: Bool { self.state.withLock { $0.enabled } }

    /// The toxics in the order they were added.
    public var toxics: [Toxic] { self.state.withLock { $0.toxics } }

    /// Adds a toxic; it acts on open connections too.
    public func addToxic(_ toxic: Toxic) throws(ProxyRegistry.Failure) {
        if let problem = toxic.problem { throw ProxyRegistry.Failure(status: 400, message: problem) }
        try self.state.withLock { state throws(ProxyRegistry.Failure) in
            guard !state.toxics.contains(where: { $0.name == toxic.name }) else {
                throw ProxyRegistry.Failure(status: 409, message: "toxic already exists")
            }
            state.toxics.append(toxic)
        }
    }

    /// Replaces a toxic's toxicity and/or attributes.
    func updateToxic(
        _ name: String,
        toxicity: Double?,
        attributes: [String: Double]?
    ) throws(ProxyRegistry.Failure) -> Toxic {
        try self.state.withLock { state throws(ProxyRegistry.Failure) in
            guard let index = state.toxics.firstIndex(where: { $0.name == name }) else {
                throw ProxyRegistry.Failure(status: 404, message: "toxic not found")
            }
            var toxic = state.toxics[index]
            if let toxicity { toxic.toxicity = toxicity }
            if let attributes { toxic.attributes.merge(attributes) { $1 } }
            if let problem = toxic.problem { throw ProxyRegistry.Failure(status: 400, message: problem) }
            state.toxics[index] = toxic
            return toxic
        }
    }

    func removeToxic(_ name: String) throws(ProxyRegistry.Failure) {
        try self.state.withLock { state throws(ProxyRegistry.Failure) in
            guard let index = state.toxics.firstIndex(where: { $0.name == name }) else {
                throw ProxyRegistry.Failure(status: 404, message: "toxic not found")
            }
            state.toxics.remove(at: index)
        }
    }

    func removeAllToxics() {
        self.state.withLock { $0.toxics.removeAll() }
    }

    /// Binds the listener and starts relaying.
    public func start() async throws {
        let (host, port) = try Self.split(self.listen)
        let server: any Channel
        do {
            server = try await ServerBootstrap(group: self.group)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { child in self.relay(child) }
                .bind(host: host, port: port)
                .get()
        } catch {
            throw StartError(description: "cannot listen on \(host):\(port): \(error)")
        }
        let bound = server.localAddress?.port ?? port
        self.state.withLock { state in
            state.server = server
            state.enabled = true
            state.listen = "\(host):\(bound)"
        }
    }

    /// Closes the listener and every open connection.
    public func stop() async {
        let (server, connections) = self.state.withLock { state in
            state.enabled = false
            defer {
                state.server = nil
                state.connections.removeAll()
            }
            return (state.server, Array(state.connections.values))
        }
        try? await server?.close()
        for connection in connections { try? await connection.close() }
    }

    /// Points new connections at another upstream.
    public func setUpstream(_ upstream: String) throws {
        _ = try Self.split(upstream)
        self.state.withLock { $0.upstream = upstream }
    }

    /// Connects to the upstream and glues the two channels together; the client's channel only
    /// becomes active once the glue is in place, so no byte is read before it has somewhere to go.
    private func relay(_ client: any Channel) -> EventLoopFuture<Void> {
        let upstream = self.upstream
        guard let (host, port) = try? Self.split(upstream) else { return client.close() }
        let tracked = ObjectIdentifier(client)
        self.state.withLock { $0.connections[tracked] = client }
        client.closeFuture.whenComplete { _ in self.state.withLock { _ = $0.connections.removeValue(forKey: tracked) } }
        return ClientBootstrap(group: client.eventLoop)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .connect(host: host, port: port)
            .flatMapThrowing { server in
                // Each channel: the toxics for bytes written into it, then its half of the glue.
                let toxics: @Sendable () -> [Toxic] = { self.toxics }
                let (toServer, toClient) = GlueHandler.makePair()
                try client.pipeline.syncOperations.addHandlers([
                    ToxicStage(stream: .downstream, toxics: toxics), toServer,
                ])
                try server.pipeline.syncOperations.addHandlers([
                    ToxicStage(stream: .upstream, toxics: toxics), toClient,
                ])
            }
            .flatMapError { _ in
                // Upstream refused: the client sees its connection closed, as with Toxiproxy.
                client.close()
            }
    }

    /// `host:port` → its parts; a bare `:port` means all interfaces.
    static func split(_ address: String) throws -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw StartError(description: "\(address) is not host:port") }
        var host = String(address[..<colon])
        if host.isEmpty { host = "0.0.0.0" }
        if host == "localhost" { host = "127.0.0.1" }
        return (host, port)
    }
}

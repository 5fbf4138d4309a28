import NIOCore
import NIOPosix
import Prometheus
import Synchronization
import SystemSupport

/// One proxy: a listener on `listen` that relays every accepted connection to `upstream`, byte
/// for byte, in both directions (Toxiproxy's model), through its toxics. Disabling it closes the
/// listener and every open connection.
public final class Proxy: Sendable {
    public let name: String
    let environment: ProxyEnvironment
    let series: ChaosMetrics.ProxySeries
    private let group: any EventLoopGroup
    private let state: Mutex<State>

    private struct State {
        var listen: String
        var upstream: String
        var enabled = false
        /// Whether a connection the listener hands over is relayed: set before the bind, cleared
        /// by `stop()` in the same step that takes the links to close, so a connection accepted
        /// while the listener closes is refused instead of relaying past the disable.
        var accepting = false
        var server: (any Channel)?
        /// The open connections by key: a number never reused, unlike the connection number
        /// (`Link.number`), which `PUT /seed` starts again.
        var links: [Int: NIOLoopBound<Link>] = [:]
        var nextKey = 1
        var nextNumber = 1
        var toxics: [Toxic] = []
        /// Bumped on every change, so a TTL only removes the toxic it was set for.
        var toxicVersions: [String: Int] = [:]
        var version = 0
    }

    /// Why a proxy could not start.
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
        /// The listen address is taken (or not this machine's): the caller's choice conflicts.
        public var isAddressConflict = false
    }

    public init(
        name: String,
        listen: String,
        upstream: String,
        environment: ProxyEnvironment = ProxyEnvironment()
    ) {
        self.name = name
        self.environment = environment
        self.series = environment.metrics.series(proxy: name)
        self.group = environment.group
        self.state = Mutex(State(listen: listen, upstream: upstream))
    }

    /// The address it listens on; after start with port 0, the port actually bound.
    public var listen: String { self.state.withLock { $0.listen } }
    public var upstream: String { self.state.withLock { $0.upstream } }
    public var enabled: Bool { self.state.withLock { $0.enabled } }

    /// The toxics in the order they were added.
    public var toxics: [Toxic] { self.state.withLock { $0.toxics } }

    // MARK: - Toxics

    /// Adds a toxic; it acts on open connections too, from the moment this returns.
    @discardableResult
    public func addToxic(_ toxic: Toxic) async throws(ProxyRegistry.Failure) -> Toxic {
        let toxic = try toxic.validated()
        let version = try self.state.withLock { state throws(ProxyRegistry.Failure) in
            guard !state.toxics.contains(where: { $0.name == toxic.name }) else {
                throw ProxyRegistry.Failure(status: 409, message: "toxic already exists")
            }
            state.toxics.append(toxic)
            return Self.bump(toxic.name, &state)
        }
        self.expire(toxic, version: version)
        await self.refreshLinks()
        return toxic
    }

    /// Replaces a toxic's toxicity, attributes (merged) and/or ttl.
    func updateToxic(_ name: String, with spec: ToxicSpec) async throws(ProxyRegistry.Failure) -> Toxic {
        let (toxic, version) = try self.state.withLock { state throws(ProxyRegistry.Failure) in
            guard let index = state.toxics.firstIndex(where: { $0.name == name }) else {
                throw ProxyRegistry.Failure(status: 404, message: "toxic not found")
            }
            var toxic = state.toxics[index]
            if let toxicity = spec.toxicity { toxic.toxicity = toxicity }
            if let stream = try spec.parsedStream() { toxic.stream = stream }
            if let attributes = spec.attributes { toxic.attributes.merge(attributes) { $1 } }
            if let ttl = spec.ttl { toxic.ttl = ttl }
            toxic = try toxic.validated()
            state.toxics[index] = toxic
            return (toxic, Self.bump(name, &state))
        }
        self.expire(toxic, version: version)
        await self.refreshLinks()
        return toxic
    }

    func removeToxic(_ name: String) async throws(ProxyRegistry.Failure) {
        try self.state.withLock { state throws(ProxyRegistry.Failure) in
            guard let index = state.toxics.firstIndex(where: { $0.name == name }) else {
                throw ProxyRegistry.Failure(status: 404, message: "toxic not found")
            }
            state.toxics.remove(at: index)
            Self.bump(name, &state)
        }
        await self.refreshLinks()
    }

    func removeAllToxics() async {
        self.state.withLock { state in
            for toxic in state.toxics { Self.bump(toxic.name, &state) }
            state.toxics.removeAll()
        }
        await self.refreshLinks()
    }

    @discardableResult
    private static func bump(_ name: String, _ state: inout State) -> Int {
        state.version += 1
        state.toxicVersions[name] = state.version
        return state.version
    }

    /// Removes the toxic when its ttl runs out, unless it was changed or replaced meanwhile. No
    /// API caller waits for this, so each link is told on its own event loop without waiting.
    private func expire(_ toxic: Toxic, version: Int) {
        guard let ttl = toxic.ttl else { return }
        self.group.next().scheduleTask(in: .nanoseconds(Int64(ttl * 1_000_000))) {
            let links = self.state.withLock { state -> [NIOLoopBound<Link>] in
                guard state.toxicVersions[toxic.name] == version,
                    let index = state.toxics.firstIndex(where: { $0.name == toxic.name })
                else { return [] }
                state.toxics.remove(at: index)
                Self.bump(toxic.name, &state)
                return Array(state.links.values)
            }
            for link in links { link.eventLoop.execute { link.value.refresh() } }
        }
    }

    /// Tells every open connection that the toxic list changed, and waits until each has acted
    /// on it: a client that adds a toxic and then sends bytes sees them affected.
    private func refreshLinks() async {
        let links = self.state.withLock { Array($0.links.values) }
        for link in links {
            try? await link.eventLoop.submit { link.value.refresh() }.get()
        }
    }

    /// Drops every open connection now (RST to clients unless `reset` is false); the listener
    /// stays up. Returns how many were dropped.
    public func dropConnections(reset: Bool) async -> Int {
        let links = self.state.withLock { Array($0.links.values) }
        for link in links {
            try? await link.eventLoop.submit { link.value.drop(reset: reset, immediately: true) }.get()
        }
        return links.count
    }

    /// Numbers connections from 1 again (with a new seed, replays start over): the open ones
    /// 1…n, oldest first, and new ones from n + 1, so no two open connections share a number and
    /// the same open connections get the same numbers in a replay. Returns once every open
    /// connection has its new number.
    func restartNumbering() async {
        let renumbered = self.state.withLock { state in
            let open = state.links.sorted { $0.key < $1.key }.map(\.value)
            state.nextNumber = open.count + 1
            return open.enumerated().map { ($0.offset + 1, $0.element) }
        }
        for (number, link) in renumbered {
            try? await link.eventLoop.submit { link.value.number = number }.get()
        }
    }

    // MARK: - Lifecycle

    /// Binds the listener and starts relaying.
    public func start() async throws {
        let (host, port) = try Self.split(self.listen)
        let server: any Channel
        self.state.withLock { $0.accepting = true }
        do {
            server = try await ServerBootstrap(group: self.group)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { child in self.relay(child) }
                .bind(host: host, port: port)
                .get()
        } catch {
            self.state.withLock { $0.accepting = false }
            if let sentence = BindFailure.explain(error, host: host, port: port, setting: "another listen address") {
                throw StartError(description: sentence, isAddressConflict: true)
            }
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
        let (server, links) = self.state.withLock { state in
            state.enabled = false
            state.accepting = false
            defer {
                state.server = nil
                state.links.removeAll()
            }
            return (state.server, Array(state.links.values))
        }
        try? await server?.close()
        for link in links { try? await link.eventLoop.flatSubmit { link.value.client.close() }.get() }
    }

    /// Moves the listener (a running proxy stops and starts again on the new address; its open
    /// connections close, as in Toxiproxy).
    public func setListen(_ listen: String) async throws {
        _ = try Self.split(listen)
        let running = self.enabled
        if running { await self.stop() }
        self.state.withLock { $0.listen = listen }
        if running { try await self.start() }
    }

    /// Points new connections at another upstream.
    public func setUpstream(_ upstream: String) throws {
        _ = try Self.split(upstream)
        self.state.withLock { $0.upstream = upstream }
    }

    /// Connects to the upstream and joins the two channels with the link's two ends; the client's
    /// channel only becomes active once they are in place, so no byte is read before it has
    /// somewhere to go.
    private func relay(_ client: any Channel) -> EventLoopFuture<Void> {
        let upstream = self.upstream
        guard let (host, port) = try? Self.split(upstream) else { return client.close() }
        let link: Link? = self.state.withLock { state in
            guard state.accepting else { return nil }
            let link = Link(key: state.nextKey, number: state.nextNumber, proxy: self, client: client)
            state.links[link.key] = NIOLoopBound(link, eventLoop: client.eventLoop)
            state.nextKey += 1
            state.nextNumber += 1
            return link
        }
        guard let link else { return client.close() }
        let key = link.key
        self.series.connections.increment()
        self.series.active.increment()
        client.closeFuture.whenComplete { _ in
            // Gone from the list before the gauge says so: a client that reads 0 open
            // connections and then reseeds gets its next connection numbered 1.
            self.state.withLock { _ = $0.links.removeValue(forKey: key) }
            self.series.active.decrement()
        }
        let bound = NIOLoopBound(link, eventLoop: client.eventLoop)
        return ClientBootstrap(group: client.eventLoop)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port)
            .flatMapThrowing { server in
                // Gone while the upstream connection was being made (the client left, or the
                // proxy was disabled): the upstream connection goes too.
                guard self.state.withLock({ $0.links[key] != nil }) else {
                    server.close(promise: nil)
                    return
                }
                // One handler per channel: reads go to the link, the link writes through it.
                let link = bound.value
                LinkEnd.join(link.toClient, link.toServer)
                try client.pipeline.syncOperations.addHandler(link.toClient)
                try server.pipeline.syncOperations.addHandler(link.toServer)
                link.connected(to: server)
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

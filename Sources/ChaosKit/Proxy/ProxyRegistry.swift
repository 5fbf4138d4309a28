/// The proxies by name, with Toxiproxy's rules for creating, changing and removing them.
public actor ProxyRegistry {
    private var proxies: [String: Proxy] = [:]

    public init() {}

    /// What a client asks for when creating or changing a proxy.
    public struct Spec: Codable, Sendable {
        public var name: String?
        public var listen: String?
        public var upstream: String?
        public var enabled: Bool?

        public init(name: String? = nil, listen: String? = nil, upstream: String? = nil, enabled: Bool? = nil) {
            self.name = name
            self.listen = listen
            self.upstream = upstream
            self.enabled = enabled
        }
    }

    /// A failure with the HTTP status Toxiproxy answers it with.
    public struct Failure: Error, Equatable {
        public let status: Int
        public let message: String
    }

    public var all: [Proxy] { self.proxies.values.sorted { $0.name < $1.name } }

    public func proxy(named name: String) throws(Failure) -> Proxy {
        guard let proxy = self.proxies[name] else { throw Failure(status: 404, message: "proxy not found") }
        return proxy
    }

    /// Creates and (unless `enabled: false`) starts a proxy.
    public func create(_ spec: Spec) async throws(Failure) -> Proxy {
        guard let name = spec.name, !name.isEmpty else {
            throw Failure(status: 400, message: "missing required field: name")
        }
        guard let upstream = spec.upstream, !upstream.isEmpty else {
            throw Failure(status: 400, message: "missing required field: upstream")
        }
        guard self.proxies[name] == nil else { throw Failure(status: 409, message: "proxy already exists") }
        let listen = spec.listen ?? "127.0.0.1:0"
        do {
            _ = try Proxy.split(listen)
            _ = try Proxy.split(upstream)
        } catch {
            throw Failure(status: 400, message: "\(error)")
        }
        let proxy = Proxy(name: name, listen: listen, upstream: upstream)
        if spec.enabled ?? true {
            do {
                try await proxy.start()
            } catch {
                throw Failure(status: 500, message: "\(error)")
            }
        }
        self.proxies[name] = proxy
        return proxy
    }

    /// Changes `enabled` and/or `upstream` (Toxiproxy's update).
    public func update(_ name: String, _ spec: Spec) async throws(Failure) -> Proxy {
        let proxy = try self.proxy(named: name)
        if let upstream = spec.upstream {
            do { try proxy.setUpstream(upstream) } catch { throw Failure(status: 400, message: "\(error)") }
        }
        if let enabled = spec.enabled, enabled != proxy.enabled {
            if enabled {
                do { try await proxy.start() } catch { throw Failure(status: 500, message: "\(error)") }
            } else {
                await proxy.stop()
            }
        }
        return proxy
    }

    public func delete(_ name: String) async throws(Failure) {
        let proxy = try self.proxy(named: name)
        self.proxies[name] = nil
        await proxy.stop()
    }

    /// Re-enables every proxy and removes every toxic (Toxiproxy's reset).
    public func reset() async {
        for proxy in self.proxies.values {
            proxy.removeAllToxics()
            if !proxy.enabled { try? await proxy.start() }
        }
    }

    /// Stops everything (at shutdown).
    public func stopAll() async {
        for proxy in self.proxies.values { await proxy.stop() }
    }
}

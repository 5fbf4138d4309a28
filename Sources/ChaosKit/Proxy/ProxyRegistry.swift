import Foundation
import JSONWriting

/// The proxies by name, with Toxiproxy's rules for creating, changing and removing them.
public actor ProxyRegistry {
    private var proxies: [String: Proxy] = [:]
    public nonisolated let environment: ProxyEnvironment

    public init(environment: ProxyEnvironment = ProxyEnvironment()) {
        self.environment = environment
    }

    /// What a client asks for when creating or changing a proxy.
    public struct Spec: Codable, Sendable {
        public var name: String?
        public var listen: String?
        public var upstream: String?
        public var enabled: Bool?
        /// Toxics to add at creation (our extension: Toxiproxy's config files cannot hold toxics).
        var toxics: [ToxicSpec]?

        public init(name: String? = nil, listen: String? = nil, upstream: String? = nil, enabled: Bool? = nil) {
            self.name = name
            self.listen = listen
            self.upstream = upstream
            self.enabled = enabled
        }
    }

    /// A failure with the HTTP status Toxiproxy answers it with.
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let status: Int
        public let message: String
        public var description: String { self.message }
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
        let proxy = Proxy(name: name, listen: listen, upstream: upstream, environment: self.environment)
        for spec in spec.toxics ?? [] {
            guard let type = spec.type else { throw Failure(status: 400, message: "missing required field: type") }
            try await proxy.addToxic(try spec.toxic(type: type))
        }
        if spec.enabled ?? true {
            do {
                try await proxy.start()
            } catch {
                throw Self.startFailure(error)
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
        // Clients that post the whole proxy back send the listen address they were given.
        if let listen = spec.listen, listen != proxy.listen {
            do {
                try await proxy.setListen(listen)
            } catch {
                throw Self.startFailure(error, otherwise: 400)
            }
        }
        if let enabled = spec.enabled, enabled != proxy.enabled {
            if enabled {
                do { try await proxy.start() } catch { throw Self.startFailure(error) }
            } else {
                await proxy.stop()
            }
        }
        return proxy
    }

    /// A proxy that could not listen: 409 with what to do when the address is taken (or not
    /// this machine's), else `otherwise` with the error.
    static func startFailure(_ error: any Error, otherwise status: Int = 500) -> Failure {
        let conflict = (error as? Proxy.StartError)?.isAddressConflict == true
        return Failure(status: conflict ? 409 : status, message: "\(error)")
    }

    public func delete(_ name: String) async throws(Failure) {
        let proxy = try self.proxy(named: name)
        self.proxies[name] = nil
        await proxy.stop()
    }

    /// Re-enables every proxy and removes every toxic (Toxiproxy's reset). A proxy that cannot
    /// listen again (its address was taken while it was disabled) fails the reset, as in
    /// Toxiproxy, after every other proxy has been reset.
    public func reset() async throws(Failure) {
        var failure: Failure?
        for proxy in self.proxies.values.sorted(by: { $0.name < $1.name }) {
            await proxy.removeAllToxics()
            guard !proxy.enabled else { continue }
            do {
                try await proxy.start()
            } catch {
                let cause = Self.startFailure(error)
                failure = failure ?? Failure(status: cause.status, message: "proxy \(proxy.name): \(cause.message)")
            }
        }
        if let failure { throw failure }
    }

    /// Sets the seed every random decision derives from; connection numbers start again at 1
    /// (open connections first, oldest first) and the journal is cleared, so what follows can be
    /// replayed with the same seed.
    public func reseed(_ seed: UInt64) async {
        self.environment.seed = seed
        self.environment.journal.clear()
        for proxy in self.proxies.values { await proxy.restartNumbering() }
    }

    /// Creates the proxies (and their toxics) listed in a JSON file: Toxiproxy's config format,
    /// which may also carry `toxics`. On any error nothing is left half-created.
    public func load(configFile path: String) async throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw Failure(status: 400, message: "cannot read the file")
        }
        let specs: [Spec]
        do { specs = try JSONDecoder().decode([Spec].self, from: data) } catch let error as DecodingError {
            throw Failure(status: 400, message: "not a JSON array of proxies: \(DecodingFailure.describe(error))")
        } catch {
            throw Failure(status: 400, message: "not a JSON array of proxies: \(error)")
        }
        var created: [String] = []
        do {
            for spec in specs { created.append(try await self.create(spec).name) }
        } catch {
            for name in created { try? await self.delete(name) }
            throw error
        }
    }

    /// Stops everything (at shutdown).
    public func stopAll() async {
        for proxy in self.proxies.values { await proxy.stop() }
    }
}

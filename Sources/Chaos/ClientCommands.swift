import ArgumentParser
import Foundation
import JSONWriting
import Native

/// Where the CLI finds the control API: `--host`, else `TOXIPROXY_URL`, else localhost:8474.
struct ServerOptions: ParsableArguments {
    @Option(name: .long, help: "Control API URL (default: $TOXIPROXY_URL or http://localhost:8474).")
    var host: String?

    @Option(help: "Bearer token for servers that require one (default: $CHAOS_TOKEN).") var token: String?

    var baseURL: String {
        var url = self.host ?? ProcessInfo.processInfo.environment["TOXIPROXY_URL"] ?? "http://localhost:8474"
        if !url.contains("://") { url = "http://\(url)" }
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// Sends one request; a non-2xx answer becomes an error carrying the server's message.
    func send(_ method: String, _ path: String, json: Any? = nil) throws -> Any? {
        var headers = [("Accept", "application/json")]
        if let token = self.token ?? ProcessInfo.processInfo.environment["CHAOS_TOKEN"] {
            headers.append(("Authorization", "Bearer \(token)"))
        }
        var body: String?
        if let json {
            headers.append(("Content-Type", "application/json"))
            body = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
        }
        let exchange: HTTPExchange
        do {
            exchange = try CurlHTTPClient().request(
                method,
                self.baseURL + path,
                body: body,
                timeout: 10,
                headers: headers
            )
        } catch {
            throw ClientError(description: "cannot reach \(self.baseURL): \(error)")
        }
        let decoded = exchange.body.isEmpty ? nil : try? JSONSerialization.jsonObject(with: Data(exchange.body))
        guard (200..<300).contains(exchange.status) else {
            let message = (decoded as? [String: Any])?["error"] as? String ?? "HTTP \(exchange.status)"
            throw ClientError(description: "\(method) \(path): \(message)")
        }
        return decoded
    }
}

/// A failure talking to the server: printed as one line, without the usage text.
struct ClientError: Error, CustomStringConvertible {
    let description: String
}

struct ProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "List, inspect, create, toggle and delete proxies.",
        subcommands: [List.self, Inspect.self, Create.self, Toggle.self, Delete.self]
    )

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one proxy and its toxics with their attributes."
        )
        @OptionGroup var server: ServerOptions
        @Argument(help: "Proxy name.") var name: String

        func run() throws {
            let proxy = try self.server.send("GET", "/proxies/\(self.name)") as? [String: Any] ?? [:]
            print("Name:     \(self.name)")
            print("Listen:   \(proxy["listen"] as? String ?? "")")
            print("Upstream: \(proxy["upstream"] as? String ?? "")")
            print("Enabled:  \((proxy["enabled"] as? Bool) == true ? "true" : "false")")
            let toxics = proxy["toxics"] as? [[String: Any]] ?? []
            print(toxics.isEmpty ? "Toxics:   none" : "Toxics:")
            for toxic in toxics { print("  " + ToxicCommand.describe(toxic)) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List proxies and their toxics.")
        @OptionGroup var server: ServerOptions

        func run() throws {
            let proxies = try self.server.send("GET", "/proxies") as? [String: [String: Any]] ?? [:]
            print("NAME\tLISTEN\tUPSTREAM\tENABLED\tTOXICS")
            for name in proxies.keys.sorted() {
                let proxy = proxies[name] ?? [:]
                let toxics = (proxy["toxics"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                let enabled = (proxy["enabled"] as? Bool) == true ? "true" : "false"
                let columns = [name, proxy["listen"] as? String ?? "", proxy["upstream"] as? String ?? "", enabled]
                print((columns + [toxics.isEmpty ? "-" : toxics.joined(separator: ",")]).joined(separator: "\t"))
            }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a proxy.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "Proxy name.") var name: String
        @Option(name: [.short, .long], help: "Address to listen on (host:port; port 0 picks one).")
        var listen = "127.0.0.1:0"
        @Option(name: [.short, .long], help: "Address to relay to (host:port).") var upstream: String

        func run() throws {
            let proxy = try self.server.send(
                "POST",
                "/proxies",
                json: ["name": self.name, "listen": self.listen, "upstream": self.upstream]
            )
            let listen = (proxy as? [String: Any])?["listen"] ?? self.listen
            print("Created proxy \(self.name) listening on \(listen), relaying to \(self.upstream)")
        }
    }

    struct Toggle: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled proxy, or disable an enabled one.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "Proxy name.") var name: String

        func run() throws {
            let proxy = try self.server.send("GET", "/proxies/\(self.name)") as? [String: Any]
            let enabled = !((proxy?["enabled"] as? Bool) ?? false)
            _ = try self.server.send("POST", "/proxies/\(self.name)", json: ["enabled": enabled])
            print("Proxy \(self.name) is now \(enabled ? "enabled" : "disabled")")
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a proxy.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "Proxy name.") var name: String

        func run() throws {
            _ = try self.server.send("DELETE", "/proxies/\(self.name)")
            print("Deleted proxy \(self.name)")
        }
    }
}

struct ToxicCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "toxic",
        abstract: "List, add, update and remove toxics.",
        subcommands: [List.self, Add.self, Update.self, Remove.self]
    )

    /// One toxic on one tab-separated line: name, type, stream, toxicity, then its attributes
    /// (and `ttl`), e.g. `latency_downstream  latency  downstream  1  jitter=10 latency=100`.
    static func describe(_ toxic: [String: Any]) -> String {
        var attributes = (toxic["attributes"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }
            .map { "\($0.key)=\(Self.text($0.value))" }
        if let ttl = toxic["ttl"] { attributes.append("ttl=\(Self.text(ttl))ms") }
        let columns = [
            toxic["name"] as? String ?? "", toxic["type"] as? String ?? "", toxic["stream"] as? String ?? "",
            Self.text(toxic["toxicity"] ?? 1), attributes.isEmpty ? "-" : attributes.joined(separator: " "),
        ]
        return columns.joined(separator: "\t")
    }

    /// A JSON value as the user typed it: whole numbers without a decimal point, tables as k:v.
    static func text(_ value: Any) -> String {
        switch value {
        case let number as NSNumber:
            return number.doubleValue.plainText
        case let table as [String: Any]:
            return "{" + table.keys.sorted().map { "\($0):\(table[$0] ?? "")" }.joined(separator: ",") + "}"
        default:
            return "\(value)"
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a proxy's toxics with their attributes.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "Proxy name.") var proxy: String

        func run() throws {
            let toxics = try self.server.send("GET", "/proxies/\(self.proxy)/toxics") as? [[String: Any]] ?? []
            print("NAME\tTYPE\tSTREAM\tTOXICITY\tATTRIBUTES")
            for toxic in toxics { print(ToxicCommand.describe(toxic)) }
        }
    }

    /// `-a key=value` pairs: numbers stay numbers, anything else is a string.
    static func attributes(_ pairs: [String]) throws -> [String: Any] {
        var attributes: [String: Any] = [:]
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("--attribute \(pair): expected key=value")
            }
            let value = String(pair[pair.index(after: equals)...])
            attributes[String(pair[..<equals])] = Double(value).map { $0 as Any } ?? value
        }
        return attributes
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a toxic to a proxy.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "Proxy name.") var proxy: String
        @Option(name: [.short, .long], help: "Toxic type, e.g. latency, http_status, pg_error.") var type: String
        @Option(name: [.short, .long], help: "Toxic name (default: TYPE_STREAM).") var name: String?
        @Option(name: [.short, .long], help: "upstream or downstream.") var stream = "downstream"
        @Option(name: [.long, .customLong("tox")], help: "Chance (0…1) that a connection gets it.") var toxicity = 1.0
        @Option(name: [.short, .long], help: "Attribute as key=value; repeat for more.") var attribute: [String] = []
        @Option(help: "Remove the toxic after this many milliseconds.") var ttl: Double?

        func run() throws {
            var body: [String: Any] = [
                "type": self.type, "stream": self.stream, "toxicity": self.toxicity,
                "attributes": try ToxicCommand.attributes(self.attribute),
            ]
            if let name = self.name { body["name"] = name }
            if let ttl = self.ttl { body["ttl"] = ttl }
            let toxic = try self.server.send("POST", "/proxies/\(self.proxy)/toxics", json: body) as? [String: Any]
            print("Added \(self.stream) \(self.type) toxic '\(toxic?["name"] ?? "")' on proxy \(self.proxy)")
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a toxic's attributes or toxicity.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "Proxy name.") var proxy: String
        @Option(name: [.short, .long], help: "Toxic name.") var name: String
        @Option(name: [.long, .customLong("tox")], help: "Chance (0…1) that a connection gets it.")
        var toxicity: Double?
        @Option(name: [.short, .long], help: "Attribute as key=value; repeat for more.") var attribute: [String] = []

        func run() throws {
            var body: [String: Any] = ["attributes": try ToxicCommand.attributes(self.attribute)]
            if let toxicity = self.toxicity { body["toxicity"] = toxicity }
            _ = try self.server.send("POST", "/proxies/\(self.proxy)/toxics/\(self.name)", json: body)
            print("Updated toxic '\(self.name)' on proxy \(self.proxy)")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a toxic.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "Proxy name.") var proxy: String
        @Option(name: [.short, .long], help: "Toxic name.") var name: String

        func run() throws {
            _ = try self.server.send("DELETE", "/proxies/\(self.proxy)/toxics/\(self.name)")
            print("Removed toxic '\(self.name)' from proxy \(self.proxy)")
        }
    }
}

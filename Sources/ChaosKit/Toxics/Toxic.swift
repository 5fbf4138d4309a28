import JSONWriting

/// A fault on a proxy's connections, in Toxiproxy's shape:
/// `{"name": "latency_downstream", "type": "latency", "stream": "downstream", "toxicity": 1,
///   "attributes": {"latency": 100, "jitter": 10}}`, plus an optional `ttl` (milliseconds)
/// after which the toxic removes itself.
public struct Toxic: Codable, Sendable, Equatable {
    /// `downstream`: server → client; `upstream`: client → server.
    public enum Stream: String, Codable, Sendable {
        case upstream, downstream
    }

    public var name: String
    public var type: String
    public var stream: Stream
    /// The chance (0…1) that a connection gets this toxic, decided once per connection.
    public var toxicity: Double
    public var attributes: [String: AttributeValue]
    /// Milliseconds after which the toxic removes itself; nil = until removed.
    public var ttl: Double?

    public init(
        name: String? = nil,
        type: String,
        stream: Stream = .downstream,
        toxicity: Double = 1,
        attributes: [String: AttributeValue] = [:],
        ttl: Double? = nil
    ) {
        self.name = name ?? "\(type)_\(stream.rawValue)"
        self.type = type
        self.stream = stream
        self.toxicity = toxicity
        self.attributes = attributes
        self.ttl = ttl
    }

    /// Checks the toxic and fills in the defaults of attributes it leaves out. A whole number given
    /// for a string attribute (`"retry_after": 5`) is kept as the number the client sent and read
    /// as its text.
    func validated() throws(ProxyRegistry.Failure) -> Toxic {
        func failure(_ message: String) -> ProxyRegistry.Failure {
            ProxyRegistry.Failure(status: 400, message: message)
        }
        guard let kind = FaultKinds.byType[self.type] else { throw failure("unsupported toxic type: \(self.type)") }
        let defaults = kind.defaults
        guard !self.name.isEmpty else { throw failure("toxic name must not be empty") }
        guard (0...1).contains(self.toxicity) else { throw failure("toxicity must be between 0 and 1") }
        if let ttl = self.ttl, !(ttl > 0 && ttl.isFinite) {
            throw failure("ttl must be a positive number of milliseconds")
        }
        var toxic = self
        for (key, value) in self.attributes {
            guard let fallback = defaults[key] else { throw failure("unknown attribute for \(self.type): \(key)") }
            switch (fallback, value) {
            case (.number, .number(let number)):
                guard number >= 0, number.isFinite else { throw failure("\(key) must be a non-negative number") }
            case (.string, .number(let number)) where number >= 0 && number == number.rounded():
                break
            case (.string, .string), (.table, .table):
                break
            default:
                throw failure("\(key) has the wrong type for \(self.type)")
            }
        }
        for (key, value) in defaults where toxic.attributes[key] == nil { toxic.attributes[key] = value }
        for (key, choices) in kind.choices {
            guard let value = toxic.attributes[key]?.text else { continue }
            guard choices.contains(value.lowercased()) else {
                throw failure(
                    "\(key) must be one of: \(choices.sorted().filter { !$0.isEmpty }.joined(separator: ", "))"
                )
            }
        }
        if let problem = kind.init(toxic).problem { throw failure(problem) }
        return toxic
    }

    func number(_ key: String) -> Double { self.attributes[key]?.number ?? 0 }
    func string(_ key: String) -> String { self.attributes[key]?.text ?? "" }

    func write(into json: inout JSONWriter) {
        json.beginObject()
        json.field("name", self.name)
        json.field("type", self.type)
        json.field("stream", self.stream.rawValue)
        AttributeValue.number(self.toxicity).write("toxicity", into: &json)
        json.key("attributes")
        json.beginObject()
        for key in self.attributes.keys.sorted() { self.attributes[key]?.write(key, into: &json) }
        json.endObject()
        if let ttl = self.ttl { AttributeValue.number(ttl).write("ttl", into: &json) }
        json.endObject()
    }
}

/// The body of a create or update request: every field optional, as clients send subsets.
struct ToxicSpec: Codable, Sendable {
    var name: String?
    var type: String?
    /// A string, not `Toxic.Stream`: Toxiproxy's Go client sends `""` for "the default".
    var stream: String?
    var toxicity: Double?
    var attributes: [String: AttributeValue]?
    var ttl: Double?
}

extension ToxicSpec {
    /// The stream asked for; empty or missing means downstream, as in Toxiproxy.
    func parsedStream() throws(ProxyRegistry.Failure) -> Toxic.Stream? {
        guard let stream = self.stream, !stream.isEmpty else { return nil }
        guard let parsed = Toxic.Stream(rawValue: stream) else {
            throw ProxyRegistry.Failure(status: 400, message: "stream must be upstream or downstream")
        }
        return parsed
    }

    /// The toxic a create request describes, with Toxiproxy's defaults for what it leaves out
    /// (an empty name, as Go clients send, means `TYPE_STREAM`).
    func toxic(type: String) throws(ProxyRegistry.Failure) -> Toxic {
        Toxic(
            name: self.name.flatMap { $0.isEmpty ? nil : $0 },
            type: type,
            stream: try self.parsedStream() ?? .downstream,
            toxicity: self.toxicity ?? 1,
            attributes: self.attributes ?? [:],
            ttl: self.ttl
        )
    }
}

/// A fault on one direction of a proxy's connections, in Toxiproxy's shape:
/// `{"name": "latency_downstream", "type": "latency", "stream": "downstream", "toxicity": 1,
///   "attributes": {"latency": 100, "jitter": 10}}`.
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
    public var attributes: [String: Double]

    /// Toxic types built so far, with their attributes' defaults (Toxiproxy's names and units).
    static let supported: [String: [String: Double]] = [
        "latency": ["latency": 0, "jitter": 0]
    ]

    public init(
        name: String? = nil,
        type: String,
        stream: Stream = .downstream,
        toxicity: Double = 1,
        attributes: [String: Double] = [:]
    ) {
        self.name = name ?? "\(type)_\(stream.rawValue)"
        self.type = type
        self.stream = stream
        self.toxicity = toxicity
        self.attributes = attributes
    }

    /// Why the toxic cannot be used, or nil.
    var problem: String? {
        guard let defaults = Self.supported[self.type] else { return "unsupported toxic type: \(self.type)" }
        if !(0...1).contains(self.toxicity) { return "toxicity must be between 0 and 1" }
        for (key, value) in self.attributes {
            guard defaults[key] != nil else { return "unknown attribute for \(self.type): \(key)" }
            if value < 0 || !value.isFinite { return "\(key) must be a non-negative number" }
        }
        return nil
    }

    /// An attribute's value, or its default.
    func attribute(_ key: String) -> Double {
        self.attributes[key] ?? Self.supported[self.type]?[key] ?? 0
    }
}

/// The body of a create or update request: every field optional, as clients send subsets.
struct ToxicSpec: Codable, Sendable {
    var name: String?
    var type: String?
    var stream: Toxic.Stream?
    var toxicity: Double?
    var attributes: [String: Double]?
}

/// What a toxic does, read from its attributes. Each kind is a small value type in its own file;
/// toxicity, stream and ttl live in ``Toxic`` (and per connection in ``LinkToxic``), not in the
/// faults.
protocol Fault: Sendable {
    /// The toxic `type`, e.g. `latency`.
    static var type: String { get }
    /// Its attributes and their defaults (Toxiproxy's names and units for Toxiproxy's toxics).
    static var defaults: [String: AttributeValue] { get }
    /// String attributes that take one of a few words (compared in lower case).
    static var choices: [String: Set<String>] { get }
    /// Reads attributes that ``Toxic/validated()`` checked: every default key is present with
    /// the right kind of value.
    init(_ toxic: Toxic)
    /// Why the attributes make no sense together, or nil.
    var problem: String? { get }
}

extension Fault {
    static var choices: [String: Set<String>] { [:] }
    var problem: String? { nil }
}

/// Every fault kind, by toxic type.
enum FaultKinds {
    static let all: [any Fault.Type] = [
        LatencyFault.self, BandwidthFault.self, SlowCloseFault.self, TimeoutFault.self, ResetPeerFault.self,
        SlicerFault.self, LimitDataFault.self,
        HTTPStatusFault.self, HTTPDelayFault.self, HTTPResetFault.self,
        PostgresDropStartupFault.self, PostgresDropInTransactionFault.self, PostgresDropAfterRowsFault.self,
        PostgresDropAfterCommitFault.self, PostgresErrorFault.self,
    ]

    static let byType: [String: any Fault.Type] = Dictionary(uniqueKeysWithValues: all.map { ($0.type, $0) })

    /// The fault a (validated) toxic describes.
    static func make(_ toxic: Toxic) -> (any Fault)? {
        byType[toxic.type].map { $0.init(toxic) }
    }
}

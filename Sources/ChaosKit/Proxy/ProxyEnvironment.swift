import Synchronization

/// What every proxy of one chaos server shares: the seed all random decisions derive from, the
/// event journal and the metrics.
public final class ProxyEnvironment: Sendable {
    public let journal = EventJournal()
    public let metrics = ChaosMetrics()
    private let seedValue: Atomic<UInt64>

    public init(seed: UInt64 = 0) {
        self.seedValue = Atomic(seed)
    }

    public var seed: UInt64 {
        get { self.seedValue.load(ordering: .relaxed) }
        set { self.seedValue.store(newValue, ordering: .relaxed) }
    }
}

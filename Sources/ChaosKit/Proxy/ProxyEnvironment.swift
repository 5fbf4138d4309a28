import NIOCore
import NIOPosix
import Synchronization

/// What every proxy of one chaos server shares: the seed all random decisions derive from, the
/// event journal, the metrics and the event loops connections run on.
public final class ProxyEnvironment: Sendable {
    public let journal = EventJournal()
    public let metrics = ChaosMetrics()
    public let group: any EventLoopGroup
    private let seedValue: Atomic<UInt64>

    public init(seed: UInt64 = 0, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.seedValue = Atomic(seed)
        self.group = group
    }

    public var seed: UInt64 {
        get { self.seedValue.load(ordering: .relaxed) }
        set { self.seedValue.store(newValue, ordering: .relaxed) }
    }
}

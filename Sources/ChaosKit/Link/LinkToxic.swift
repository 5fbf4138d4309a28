import NIOCore
import Seeded

/// One toxic as one connection sees it: whether it applies (toxicity), its random stream, its
/// timer and its per-connection counters. The fault itself is shared, immutable data.
final class LinkToxic {
    private(set) var toxic: Toxic
    private(set) var fault: any Fault
    /// The connection's draw for toxicity; the toxic applies while it is below `toxicity`.
    private let roll: Double
    var random: SplitMix64
    var timer: Scheduled<Void>?
    /// limit_data: bytes let through; pg_drop_after_rows: rows seen.
    var count = 0
    /// bandwidth: when the bytes already paced will have gone out.
    var pacedUntil = NIODeadline.uptimeNanoseconds(0)

    /// nil for a toxic of an unknown type (the API refuses those before they get here).
    init?(_ toxic: Toxic, seed: UInt64, proxy: String, link: Int) {
        guard let fault = FaultKinds.make(toxic) else { return nil }
        self.toxic = toxic
        self.fault = fault
        self.random = SplitMix64(seed: seed, path: [proxy, toxic.name, String(link)])
        self.roll = self.random.unit()
    }

    var applies: Bool { self.toxic.toxicity >= 1 || self.roll < self.toxic.toxicity }

    /// The timer of a stream fault (`timeout`, `reset_peer`).
    var faultTimer: FaultTimer? { (self.fault as? any StreamFault)?.timer }

    func update(_ toxic: Toxic) {
        guard let fault = FaultKinds.make(toxic) else { return }
        self.toxic = toxic
        self.fault = fault
    }
}

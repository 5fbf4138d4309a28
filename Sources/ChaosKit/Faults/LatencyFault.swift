import NIOCore
import Seeded

/// `latency`: every chunk waits `latency` ms, ± up to `jitter` ms (drawn from the seed).
struct LatencyFault: StreamFault {
    static let type = "latency"
    static let defaults: [String: AttributeValue] = ["latency": .number(0), "jitter": .number(0)]

    let latency: Double
    let jitter: Double

    init(_ toxic: Toxic) {
        self.latency = toxic.number("latency")
        self.jitter = toxic.number("jitter")
    }

    func shape(_ pieces: inout [StreamPiece], on connection: LinkToxic) -> Bool {
        let extra = self.latency + (self.jitter > 0 ? (connection.random.unit() * 2 - 1) * self.jitter : 0)
        let shift = TimeAmount.milliseconds(fraction: extra)
        for index in pieces.indices { pieces[index].due = pieces[index].due + shift }
        return false
    }
}

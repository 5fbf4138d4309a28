import Foundation
import Seeded

/// When each request of an open-model load is due and which request of the mix it is: a pure
/// function of the load and the seed, so a replay sends the same sequence at the same times.
public struct LoadSchedule: Sendable {
    public let load: Load
    public let duration: Double
    public let seed: UInt64
    private let totalWeight: Int

    public init(load: Load, duration: Double, seed: UInt64) {
        self.load = load
        self.duration = duration
        self.seed = seed
        self.totalWeight = load.mix.reduce(0) { $0 + $1.weight }
    }

    /// Requests due by second `time`: the integral of the rate, which climbs linearly over the ramp.
    public func count(until time: Double) -> Double {
        let rate = self.load.rate
        let ramp = self.load.ramp
        let time = min(max(time, 0), self.duration)
        guard ramp > 0 else { return rate * time }
        if time <= ramp { return rate * time * time / (2 * ramp) }
        return rate * ramp / 2 + rate * (time - ramp)
    }

    /// Seconds after the start at which request `index` (from 0) is due; nil past the end.
    public func due(_ index: Int) -> Double? {
        let rate = self.load.rate
        let ramp = self.load.ramp
        let position = Double(index)
        let time: Double
        if ramp > 0 && position < rate * ramp / 2 {
            time = (2 * ramp * position / rate).squareRoot()
        } else {
            time = ramp / 2 + position / rate
        }
        return time < self.duration ? time : nil
    }

    /// Which request of the mix number `index` is, picked by weight from the seed.
    public func request(_ index: Int) -> Int {
        var random = SplitMix64(seed: self.seed, path: ["load", String(index)])
        var pick = Int(random.next() % UInt64(self.totalWeight))
        for (position, request) in self.load.mix.enumerated() {
            if pick < request.weight { return position }
            pick -= request.weight
        }
        return self.load.mix.count - 1
    }

    /// How many page numbers `{unique}` cycles through: pages 100 000 to 999 999, past the end of
    /// any stored set and inside the App's valid range.
    public static let uniquePages = 900_000

    /// The path of request `index`: `{size}` is a page size from 11 to 100, `{unique}` a page
    /// number no other request of the run uses (offset by `base`, so another run asks for others).
    public func path(_ index: Int, unique base: Int) -> String {
        self.load.mix[self.request(index)].path
            .replacingOccurrences(of: "{size}", with: String(11 + index % 90))
            .replacingOccurrences(of: "{unique}", with: String(100_000 + (base + index) % Self.uniquePages))
    }
}

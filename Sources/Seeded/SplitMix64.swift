/// A small, fast, seedable generator (SplitMix64) so the same seed gives the same dataset and
/// the same fault decisions on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SplitMix64 {
    /// A generator whose seed is derived from a base seed and a path of names and numbers, so
    /// each (toxic, connection, request) gets its own stream that does not depend on the order in
    /// which other streams were used.
    public init(seed: UInt64, path: [String]) {
        // FNV-1a over the path, mixed with the base seed; a separator keeps ["ab","c"] ≠ ["a","bc"].
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for part in path {
            for byte in part.utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
            hash = (hash ^ 0xFF) &* 0x0000_0100_0000_01B3
        }
        var mixer = SplitMix64(seed: seed ^ hash)
        self.init(seed: mixer.next())
    }

    /// A uniformly distributed number in 0..<1 with 53 bits of precision.
    public mutating func unit() -> Double {
        Double(self.next() >> 11) * 0x1.0p-53
    }
}

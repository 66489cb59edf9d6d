/// A small, fast, seedable generator (SplitMix64): the same seed gives the same data on every machine.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    /// A generator for one part of the data, independent of the others.
    init(seed: UInt64, stream: UInt64) {
        state = seed ^ (stream &* 0x9E37_79B9_7F4A_7C15)
        _ = next()
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound`.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// True with probability `percent / 100` (fractions allowed).
    mutating func chance(_ percent: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) * 100 < percent }
}

/// SplitMix64: small, fast and the same on every platform, so a seed fixes a run exactly.
public struct RandomSource: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for one purpose and one epoch, independent of how much other streams consumed.
    public init(seed: UInt64, stream: UInt64, epoch: Int) {
        var mixer = RandomSource(seed: seed ^ (stream &* 0x9E37_79B9_7F4A_7C15))
        for _ in 0...epoch { _ = mixer.next() }
        state = mixer.next() ^ UInt64(truncatingIfNeeded: epoch)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [low, high), 24 random bits.
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        let unit = Float(next() >> 40) * (1 / Float(1 << 24))
        return low + (high - low) * unit
    }
}

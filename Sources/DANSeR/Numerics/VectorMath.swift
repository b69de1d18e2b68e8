internal import Foundation

/// Hand-written element-wise kernels for the (batch x items) score matrix, where a scalar
/// `expf` per element would cost more than the matrix product itself.
enum VectorMath {
    /// Largest element of `count` floats (count > 0). Floats are compared as order-preserving
    /// integers, because an integer max reduction vectorizes and a float one does not.
    @inline(__always)
    static func maximum(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var best = Int32.min
        p.withMemoryRebound(to: Int32.self, capacity: count) { bits in
            for i in 0..<count {
                let b = bits[i]
                let key = b ^ ((b >> 31) & 0x7FFF_FFFF)
                best = key > best ? key : best
            }
        }
        return Float(bitPattern: UInt32(bitPattern: best ^ ((best >> 31) & 0x7FFF_FFFF)))
    }

    /// exp(x): Cody-Waite reduction to [-ln2/2, ln2/2], then the Cephes degree-6 polynomial;
    /// relative error about 2e-7. Branch-free scalar code, so loops over it vectorize.
    @inline(__always)
    static func exp(_ input: Float) -> Float {
        let x = min(max(input, -87.3), 88.3)
        let magic: Float = 12_582_912  // 1.5 * 2^23: adding it rounds to an integer
        let shifted = x * 1.442_695_04 + magic
        let n = shifted - magic
        var r = x - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var y: Float = 1.987_569_15e-4
        y = y * r + 1.398_199_95e-3
        y = y * r + 8.333_451_9e-3
        y = y * r + 4.166_579_59e-2
        y = y * r + 1.666_666_55e-1
        y = y * r + 5.000_000_1e-1
        y = y * (r * r) + r + 1
        let scale = Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
        return y * scale
    }

    /// p[i] = exp(p[i] - shift) in place; returns the sum of the new values.
    @inline(__always)
    static func expSubtractingInPlace(_ p: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        for i in 0..<count { p[i] = exp(p[i] - shift) }
        return sum(p, count: count)
    }

    /// Sum with 16 running partial sums (a fixed order, so results are reproducible).
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var partial = SIMD16<Float>(repeating: 0)
        var index = 0
        while index &+ 16 <= count {
            partial += UnsafeRawPointer(p + index).loadUnaligned(as: SIMD16<Float>.self)
            index &+= 16
        }
        var total = partial.sum()
        while index < count {
            total += p[index]
            index &+= 1
        }
        return total
    }

    /// p[i] *= factor.
    @inline(__always)
    static func scale(_ p: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        for i in 0..<count { p[i] *= factor }
    }

    /// How many of the `count` floats are strictly greater than `threshold`.
    @inline(__always)
    static func countGreater(_ p: UnsafePointer<Float>, count: Int, than threshold: Float) -> Int {
        var total = 0
        for i in 0..<count { total &+= p[i] > threshold ? 1 : 0 }
        return total
    }

    /// sum_i a[i] b[i] with 16 running partial sums (a fixed order, so results are reproducible).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var partial = SIMD16<Float>(repeating: 0)
        var index = 0
        while index &+ 16 <= count {
            partial += UnsafeRawPointer(a + index).loadUnaligned(as: SIMD16<Float>.self)
                * UnsafeRawPointer(b + index).loadUnaligned(as: SIMD16<Float>.self)
            index &+= 16
        }
        var total = partial.sum()
        while index < count {
            total += a[index] * b[index]
            index &+= 1
        }
        return total
    }

    /// p[i] += factor * q[i], returning the largest new p[i] (count > 0): one pass where
    /// `maximum` after the add would be two. Sixteen lanes at a time.
    @inline(__always)
    static func addScaledReturningMaximum(
        _ p: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, by factor: Float, count: Int
    ) -> Float {
        var lanes = SIMD16<Float>(repeating: -.infinity)
        var index = 0
        while index &+ 16 <= count {
            let chunk = UnsafeRawPointer(p + index).loadUnaligned(as: SIMD16<Float>.self)
                + factor * UnsafeRawPointer(q + index).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(p + index).storeBytes(of: chunk, as: SIMD16<Float>.self)
            lanes = lanes.replacing(with: chunk, where: chunk .> lanes)
            index &+= 16
        }
        var best = lanes.max()
        while index < count {
            p[index] += factor * q[index]
            best = Swift.max(best, p[index])
            index &+= 1
        }
        return best
    }

    /// p[i] *= factor, returning sum_i p[i] q[i] of the scaled values: `scale` and `dot` in one pass.
    @inline(__always)
    static func scaleReturningDot(
        _ p: UnsafeMutablePointer<Float>, by factor: Float, _ q: UnsafePointer<Float>, count: Int
    ) -> Float {
        var partial = SIMD16<Float>(repeating: 0)
        var index = 0
        while index &+ 16 <= count {
            let chunk = factor * UnsafeRawPointer(p + index).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(p + index).storeBytes(of: chunk, as: SIMD16<Float>.self)
            partial += chunk * UnsafeRawPointer(q + index).loadUnaligned(as: SIMD16<Float>.self)
            index &+= 16
        }
        var total = partial.sum()
        while index < count {
            p[index] *= factor
            total += p[index] * q[index]
            index &+= 1
        }
        return total
    }

    /// How many of the `count` floats are at least `threshold`.
    @inline(__always)
    static func countAtLeast(_ p: UnsafePointer<Float>, count: Int, threshold: Float) -> Int {
        // Explicit 16-lane compares with 32-bit counters: one instruction per 16 scores.
        var lanes = SIMD16<Int32>(repeating: 0)
        let bar = SIMD16<Float>(repeating: threshold)
        let one = SIMD16<Int32>(repeating: 1)
        var index = 0
        while index &+ 16 <= count {
            let chunk = UnsafeRawPointer(p + index).loadUnaligned(as: SIMD16<Float>.self)
            lanes &+= SIMD16<Int32>(repeating: 0).replacing(with: one, where: chunk .>= bar)
            index &+= 16
        }
        var total = Int(lanes.wrappedSum())
        while index < count {
            total &+= p[index] >= threshold ? 1 : 0
            index &+= 1
        }
        return total
    }

    /// Calls `body` with each index i (ascending) where p[i] >= threshold. Sixteen scores are
    /// compared at once and a chunk with none at or above the bar is skipped whole.
    @inline(__always)
    static func forEachAtLeast(
        _ p: UnsafePointer<Float>, count: Int, threshold: Float, _ body: (Int) -> Void
    ) {
        let bar = SIMD16<Float>(repeating: threshold)
        var index = 0
        while index &+ 16 <= count {
            let chunk = UnsafeRawPointer(p + index).loadUnaligned(as: SIMD16<Float>.self)
            if any(chunk .>= bar) {
                for lane in 0..<16 where chunk[lane] >= threshold { body(index &+ lane) }
            }
            index &+= 16
        }
        while index < count {
            if p[index] >= threshold { body(index) }
            index &+= 1
        }
    }

    /// The first index of the largest of `count` floats other than index `excluded`
    /// (count > 1), as a scalar scan with `>` would find it.
    @inline(__always)
    static func indexOfMaximum(_ p: UnsafePointer<Float>, count: Int, excluding excluded: Int) -> Int {
        var best: Float? = nil
        if excluded > 0 { best = maximum(p, count: excluded) }
        if excluded &+ 1 < count {
            let rest = maximum(p + (excluded &+ 1), count: count &- excluded &- 1)
            best = best.map { Swift.max($0, rest) } ?? rest
        }
        let value = best!
        var found = -1
        forEachAtLeast(p, count: count, threshold: value) { j in
            if found < 0, j != excluded, p[j] == value { found = j }
        }
        return found >= 0 ? found : (excluded == 0 ? 1 : 0)
    }

    /// sqrt(x) for x >= 0 (0 gives 0) from the bit-level reciprocal square root estimate and
    /// three Newton steps: relative error below 1e-7, and branch-free so loops vectorize.
    @inline(__always)
    static func squareRoot(_ x: Float) -> Float {
        let safe = max(x, Float.leastNormalMagnitude)
        var y = Float(bitPattern: 0x5F37_5A86 &- (safe.bitPattern >> 1))
        let half = 0.5 * safe
        y = y * (1.5 - half * y * y)
        y = y * (1.5 - half * y * y)
        y = y * (1.5 - half * y * y)
        return x * y
    }

    /// 1 / (1 + exp(-x)) from `exp` above: branch-free, so the gate loops vectorize.
    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    /// tanh(x), relative error below 5e-7 and exactly odd. Near 0 (|x| < 0.25) the Taylor
    /// series to x^9, whose next term is below 1e-8 relative there; elsewhere 1 - 2 / (exp(2|x|) + 1),
    /// which has no cancellation once tanh is that far from 0. Both are computed and one selected,
    /// so loops over it vectorize (libm's tanhf is a scalar call).
    @inline(__always)
    static func tanh(_ x: Float) -> Float {
        let a = Swift.abs(x)
        let x2 = x * x
        var series: Float = 62.0 / 2835.0
        series = series * x2 - 17.0 / 315.0
        series = series * x2 + 2.0 / 15.0
        series = series * x2 - 1.0 / 3.0
        let near = a + a * x2 * series
        let far = 1 - 2 / (exp(2 * Swift.min(a, 10)) + 1)
        let magnitude = a < 0.25 ? near : far
        return Float(bitPattern: magnitude.bitPattern | (x.bitPattern & 0x8000_0000))
    }
}

internal import Foundation

/// Hand-written element-wise kernels for the (batch x items) score matrix, where a scalar
/// `expf` per element would cost more than the matrix product itself.
enum VectorMath {
    typealias Vector = SIMD16<Float>
    static let width = 16

    /// Largest element of `count` floats (count > 0).
    @inline(__always)
    static func maximum(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var best = Vector(repeating: -.infinity)
        var index = 0
        while index &+ width <= count {
            let v = UnsafeRawPointer(p + index).loadUnaligned(as: Vector.self)
            best = pointwiseMax(best, v)
            index &+= width
        }
        var result = best.max()
        while index < count {
            result = Swift.max(result, p[index])
            index &+= 1
        }
        return result
    }

    /// exp(x) for one vector: Cody-Waite reduction to [-ln2/2, ln2/2], then the Cephes
    /// degree-6 polynomial; relative error about 2e-7 over the float range.
    @inline(__always)
    static func exp(_ input: Vector) -> Vector {
        let x = input.clamped(lowerBound: Vector(repeating: -87.3), upperBound: Vector(repeating: 88.3))
        let magic = Vector(repeating: 12_582_912)  // 1.5 * 2^23: adding it rounds to an integer
        let shifted = x * 1.442_695_04 + magic
        let n = shifted - magic
        var r = x - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var y = Vector(repeating: 1.987_569_15e-4)
        y = y * r + 1.398_199_95e-3
        y = y * r + 8.333_451_9e-3
        y = y * r + 4.166_579_59e-2
        y = y * r + 1.666_666_55e-1
        y = y * r + 5.000_000_1e-1
        y = y * (r * r) + r + 1
        let bits = unsafeBitCast(shifted, to: SIMD16<UInt32>.self)
        let scaleBits = (bits &- 0x4B40_0000 &+ 127) &<< 23
        return y * unsafeBitCast(scaleBits, to: Vector.self)
    }

    /// p[i] = exp(p[i] - shift) in place; returns the sum of the new values.
    @inline(__always)
    static func expSubtractingInPlace(_ p: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        var sum = Vector(repeating: 0)
        let s = Vector(repeating: shift)
        var index = 0
        while index &+ width <= count {
            let raw = UnsafeMutableRawPointer(p + index)
            let v = exp(raw.loadUnaligned(as: Vector.self) - s)
            raw.storeBytes(of: v, as: Vector.self)
            sum += v
            index &+= width
        }
        var total = sum.sum()
        while index < count {
            let v = Foundation.exp(p[index] - shift)
            p[index] = v
            total += v
            index &+= 1
        }
        return total
    }

    /// p[i] *= factor.
    @inline(__always)
    static func scale(_ p: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        var index = 0
        while index &+ width <= count {
            let raw = UnsafeMutableRawPointer(p + index)
            raw.storeBytes(of: raw.loadUnaligned(as: Vector.self) * factor, as: Vector.self)
            index &+= width
        }
        while index < count {
            p[index] *= factor
            index &+= 1
        }
    }

    /// How many of the `count` floats are strictly greater than `threshold`.
    @inline(__always)
    static func countGreater(_ p: UnsafePointer<Float>, count: Int, than threshold: Float) -> Int {
        var counts = SIMD16<Int32>(repeating: 0)
        let t = Vector(repeating: threshold)
        let one = SIMD16<Int32>(repeating: 1)
        let zero = SIMD16<Int32>(repeating: 0)
        var index = 0
        while index &+ width <= count {
            let v = UnsafeRawPointer(p + index).loadUnaligned(as: Vector.self)
            counts &+= zero.replacing(with: one, where: v .> t)
            index &+= width
        }
        var total = Int(counts.wrappedSum())
        while index < count {
            if p[index] > threshold { total &+= 1 }
            index &+= 1
        }
        return total
    }

    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }
}

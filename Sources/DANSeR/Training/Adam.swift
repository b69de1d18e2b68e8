internal import Foundation

/// Adam with L2 added to the gradient (as PyTorch's `Adam(weight_decay:)`), applied densely to
/// every parameter. One fused pass per element: decay, both moments, update.
public struct AdamState: Sendable, Equatable {
    public static let beta1: Float = 0.9
    public static let beta2: Float = 0.999
    public static let epsilon: Float = 1e-8

    /// Updates taken so far.
    public internal(set) var step: Int
    public internal(set) var firstMoment: [Float]
    public internal(set) var secondMoment: [Float]

    public init(parameterCount: Int) {
        step = 0
        firstMoment = [Float](repeating: 0, count: parameterCount)
        secondMoment = [Float](repeating: 0, count: parameterCount)
    }

    init(step: Int, firstMoment: [Float], secondMoment: [Float]) {
        self.step = step
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
    }

    /// One update of `values` from `gradients` (count elements each).
    mutating func update(
        values: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        learningRate: Float, l2: Float, threads: Int
    ) {
        step += 1
        let count = firstMoment.count
        let correction1 = 1 - pow(Double(Self.beta1), Double(step))
        let correction2 = 1 - pow(Double(Self.beta2), Double(step))
        let stepSize = Float(Double(learningRate) / correction1)
        let inverseRoot = Float(1 / correction2.squareRoot())
        let valuesBox = UncheckedBox(values)
        let gradientsBox = UncheckedBox(gradients)
        firstMoment.withUnsafeMutableBufferPointer { mBuffer in
            secondMoment.withUnsafeMutableBufferPointer { vBuffer in
                let mBox = UncheckedBox(mBuffer.baseAddress!)
                let vBox = UncheckedBox(vBuffer.baseAddress!)
                Parallel.forEachRange(count: count, threads: threads) { range in
                    Self.kernel(
                        values: valuesBox.value, gradients: gradientsBox.value, m: mBox.value, v: vBox.value,
                        range: range, stepSize: stepSize, inverseRoot: inverseRoot, l2: l2)
                }
            }
        }
    }

    @inline(__always)
    private static func kernel(
        values: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
        range: Range<Int>, stepSize: Float, inverseRoot: Float, l2: Float
    ) {
        // A plain loop of multiplies, adds and bit operations, which the compiler vectorizes;
        // `squareRoot()` would not (it keeps a scalar libm fallback for negative inputs).
        for i in range {
            let g = gradients[i] + l2 * values[i]
            let mNew = beta1 * m[i] + (1 - beta1) * g
            let vNew = beta2 * v[i] + (1 - beta2) * g * g
            m[i] = mNew
            v[i] = vNew
            values[i] -= stepSize * mNew / (VectorMath.squareRoot(vNew) * inverseRoot + epsilon)
        }
    }
}

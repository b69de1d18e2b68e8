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

    /// The constants of one update; `begin` counts the step.
    struct Step {
        let stepSize: Float
        let inverseRoot: Float
        let l2: Float
    }

    /// Starts update number `step + 1`.
    mutating func begin(learningRate: Float, l2: Float) -> Step {
        step += 1
        let correction1 = 1 - pow(Double(Self.beta1), Double(step))
        let correction2 = 1 - pow(Double(Self.beta2), Double(step))
        return Step(
            stepSize: Float(Double(learningRate) / correction1), inverseRoot: Float(1 / correction2.squareRoot()),
            l2: l2)
    }

    /// Runs `body` with the moment buffers (count elements each).
    mutating func withMoments<R>(
        _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> R
    ) -> R {
        firstMoment.withUnsafeMutableBufferPointer { m in
            secondMoment.withUnsafeMutableBufferPointer { v in body(m.baseAddress!, v.baseAddress!) }
        }
    }

    /// Applies `step` to elements `range`; `gradients` is indexed like `values`.
    static func apply(
        _ step: Step, values: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, range: Range<Int>
    ) {
        kernel(
            values: values, gradients: gradients, m: m, v: v, range: range, stepSize: step.stepSize,
            inverseRoot: step.inverseRoot, l2: step.l2)
    }

    /// One update of all `values` from `gradients` (count elements each).
    mutating func update(
        values: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        learningRate: Float, l2: Float, threads: Int
    ) {
        let step = begin(learningRate: learningRate, l2: l2)
        let count = firstMoment.count
        let box = UncheckedBox((values, gradients))
        withMoments { m, v in
            let moments = UncheckedBox((m, v))
            Parallel.forEachRange(count: count, threads: threads) { range in
                Self.apply(
                    step, values: box.value.0, gradients: box.value.1, m: moments.value.0, v: moments.value.1,
                    range: range)
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

import Foundation
import Testing
@testable import DANSeR

/// Finite-difference checks of every layer's backward pass (small sizes, float32).
@Suite struct GradientTests {
    let check = GradientCheck()

    @Test func linearLayer() throws {
        let setup = try TinySetup()
        let layer = setup.network.readout.transform
        var x = TinySetup.projection(rows: 3, cols: layer.inputSize, seed: 1)
        let r = TinySetup.projection(rows: 3, cols: layer.outputSize, seed: 2)
        var values = setup.model.parameters
        let (dx, grads) = TinySetup.withAccess(&values) { p in
            layer.backward(input: x, outputGradient: r, p)!
        }
        func loss(_ v: [Float], _ input: Matrix) -> Double {
            var v = v
            return TinySetup.withAccess(&v) { p in TinySetup.dot(layer(input, p), r) }.0
        }
        let indices = setup.indices(of: "readout.transform")
        #expect(check.firstMismatch(values: &values, analytic: grads, indices: indices) { loss($0, x) } == nil)
        let fixed = values
        #expect(check.firstMismatch(values: &x.storage, analytic: dx.storage, indices: x.storage.indices) {
            loss(fixed, Matrix(rows: 3, cols: layer.inputSize, storage: $0))
        } == nil)
    }

    @Test func embeddingLookup() throws {
        let setup = try TinySetup()
        let layer = setup.network.embedding
        let items = setup.batch.nodeItems
        let r = TinySetup.projection(rows: items.count, cols: layer.size, seed: 3)
        var values = setup.model.parameters
        let (_, grads) = TinySetup.withAccess(&values) { p in
            layer.backward(items: items, outputGradient: r, p)
        }
        let indices = setup.indices(of: "embedding")
        let result = check.firstMismatch(values: &values, analytic: grads, indices: indices) { v in
            var v = v
            return TinySetup.withAccess(&v) { p in TinySetup.dot(layer(items, p), r) }.0
        }
        #expect(result == nil)
        // Sparse: the padding row and unused rows get nothing.
        let d = layer.size
        #expect(grads[0..<d].allSatisfy { $0 == 0 })
    }

    @Test func gatedGraphLayer() throws {
        let setup = try TinySetup()
        let layer = setup.network.propagation
        let batch = setup.batch
        let d = setup.model.configuration.hiddenSize
        var h = TinySetup.projection(rows: batch.nodeCount, cols: d, seed: 4)
        let r = TinySetup.projection(rows: batch.nodeCount, cols: d, seed: 5)
        var values = setup.model.parameters
        let (dh, grads) = TinySetup.withAccess(&values) { p in
            let (_, cache) = layer.forward(h, graph: batch, p)
            return layer.backward(cache, outputGradient: r, graph: batch, p)
        }
        func loss(_ v: [Float], _ input: Matrix) -> Double {
            var v = v
            return TinySetup.withAccess(&v) { p in TinySetup.dot(layer.forward(input, graph: batch, p).output, r) }.0
        }
        let indices = setup.indices(of: "gnn.")
        #expect(check.firstMismatch(values: &values, analytic: grads, indices: indices) { loss($0, h) } == nil)
        let fixed = values
        #expect(check.firstMismatch(values: &h.storage, analytic: dh.storage, indices: h.storage.indices) {
            loss(fixed, Matrix(rows: batch.nodeCount, cols: d, storage: $0))
        } == nil)
    }

    @Test func attentionReadout() throws {
        let setup = try TinySetup()
        let layer = setup.network.readout
        let batch = setup.batch
        let d = setup.model.configuration.hiddenSize
        var x = TinySetup.projection(rows: batch.positionCount, cols: d, seed: 6)
        let r = TinySetup.projection(rows: batch.count, cols: d, seed: 7)
        var values = setup.model.parameters
        let (dx, grads) = TinySetup.withAccess(&values) { p in
            let (_, cache) = layer.forward(x, graph: batch, p)
            return layer.backward(cache, outputGradient: r, graph: batch, p)
        }
        func loss(_ v: [Float], _ input: Matrix) -> Double {
            var v = v
            return TinySetup.withAccess(&v) { p in TinySetup.dot(layer.forward(input, graph: batch, p).output, r) }.0
        }
        let indices = setup.indices(of: "attention.") + setup.indices(of: "readout.")
        #expect(check.firstMismatch(values: &values, analytic: grads, indices: indices) { loss($0, x) } == nil)
        let fixed = values
        #expect(check.firstMismatch(values: &x.storage, analytic: dx.storage, indices: x.storage.indices) {
            loss(fixed, Matrix(rows: batch.positionCount, cols: d, storage: $0))
        } == nil)
    }

    /// Scores against all items and the fused softmax cross-entropy, checked together.
    @Test func scoringAndCrossEntropy() throws {
        let setup = try TinySetup()
        let scorer = setup.network.scorer
        let batch = setup.batch
        let n = setup.model.itemCount
        let d = setup.model.configuration.hiddenSize
        var s = TinySetup.projection(rows: batch.count, cols: d, seed: 8)
        func loss(_ v: [Float], _ sessions: Matrix) -> Double {
            var v = v
            return TinySetup.withAccess(&v) { p in
                var logits = [Float](repeating: 0, count: batch.count * n)
                return logits.withUnsafeMutableBufferPointer { l in
                    scorer.scores(sessions, p, into: l.baseAddress!)
                    return SoftmaxCrossEntropy.lossAndGradient(
                        logits: l.baseAddress!, rows: batch.count, columns: n, targets: batch.targets, threads: 2)
                        / Double(batch.count)
                }
            }.0
        }
        var values = setup.model.parameters
        let (ds, grads) = TinySetup.withAccess(&values) { p in
            var logits = [Float](repeating: 0, count: batch.count * n)
            return logits.withUnsafeMutableBufferPointer { l in
                scorer.scores(s, p, into: l.baseAddress!)
                _ = SoftmaxCrossEntropy.lossAndGradient(
                    logits: l.baseAddress!, rows: batch.count, columns: n, targets: batch.targets, threads: 2)
                return scorer.backward(sessions: s, logitGradient: l.baseAddress!, p, accumulate: true)
            }
        }
        #expect(check.firstMismatch(values: &values, analytic: grads, indices: setup.indices(of: "embedding")) {
            loss($0, s)
        } == nil)
        let fixed = values
        #expect(check.firstMismatch(values: &s.storage, analytic: ds.storage, indices: s.storage.indices) {
            loss(fixed, Matrix(rows: batch.count, cols: d, storage: $0))
        } == nil)
        // The padding row is never scored.
        #expect(grads[0..<d].allSatisfy { $0 == 0 })
    }

    /// The whole network, embedding to loss, as the trainer runs it.
    @Test func wholeNetwork() throws {
        let setup = try TinySetup()
        let network = setup.network
        let batch = setup.batch
        let n = setup.model.itemCount
        func run(_ v: inout [Float], backward: Bool) -> (Double, [Float]) {
            TinySetup.withAccess(&v) { p in
                var logits = [Float](repeating: 0, count: batch.count * n)
                return logits.withUnsafeMutableBufferPointer { l in
                    let pass = network.forward(batch, p)
                    network.scorer.scores(pass.sessions, p, into: l.baseAddress!)
                    let loss = SoftmaxCrossEntropy.lossAndGradient(
                        logits: l.baseAddress!, rows: batch.count, columns: n, targets: batch.targets, threads: 1)
                    if backward {
                        let ds = network.scorer.backward(
                            sessions: pass.sessions, logitGradient: l.baseAddress!, p, accumulate: true)
                        network.backward(pass, sessionGradient: ds, batch: batch, p)
                    }
                    return loss / Double(batch.count)
                }
            }
        }
        var values = setup.model.parameters
        let grads = run(&values, backward: true).1
        let result = check.firstMismatch(values: &values, analytic: grads, indices: values.indices) { v in
            var v = v
            return run(&v, backward: false).0
        }
        #expect(result == nil)
    }

    @Test func vectorExpMatchesFoundation() {
        var values: [Float] = stride(from: -90, through: 88, by: 0.37).map { Float($0) }
        let expected = values.map { Double($0 - 1.5).exponentialValue }
        let sum = values.withUnsafeMutableBufferPointer {
            VectorMath.expSubtractingInPlace($0.baseAddress!, count: $0.count, shift: 1.5)
        }
        for (got, want) in zip(values, expected) where want > 1e-36 {
            #expect(abs(Double(got) - want) <= 1e-6 * want)
        }
        #expect(abs(Double(sum) - expected.reduce(0, +)) <= 1e-5 * expected.reduce(0, +))
    }
}

extension Double {
    fileprivate var exponentialValue: Double { _exp(self) }
}

private func _exp(_ x: Double) -> Double {
    // Sum of the series after range reduction keeps the test free of Foundation.
    let k = (x / 0.693_147_180_559_945_3).rounded()
    let r = x - k * 0.693_147_180_559_945_3
    var term = 1.0
    var sum = 1.0
    for i in 1...25 {
        term *= r / Double(i)
        sum += term
    }
    return sum * pow2(Int(k))
}

private func pow2(_ k: Int) -> Double { Double(sign: .plus, exponent: k, significand: 1) }

@Suite struct VectorMathTests {
    @Test func squareRootIsAccurate() {
        #expect(VectorMath.squareRoot(0) == 0)
        var x: Float = 1e-30
        while x < 1e30 {
            let got = Double(VectorMath.squareRoot(x))
            let want = Double(x).squareRoot()
            #expect(abs(got - want) <= 3e-7 * want, "sqrt(\(x))")
            x *= 1.37
        }
    }

    /// The gates' activations against double precision, over the range training meets, near
    /// 0 (where 1 - 2 / (e + 1) would cancel), across the switch at 0.25 and far into saturation.
    @Test func activationsAreAccurate() {
        var inputs: [Float] = stride(from: -30, through: 30, by: 0.0137).map { Float($0) }
        let edges: [Float] = [0, -0, 1e-30, -1e-30, 1e-6, -1e-6, 0.25, -0.25, Float(0.25).nextDown, Float(0.25).nextUp, 1e-3, 90, -90]
        inputs += edges
        for x in inputs {
            let tanhWant = Foundation.tanh(Double(x))
            #expect(abs(Double(VectorMath.tanh(x)) - tanhWant) <= 5e-7 * abs(tanhWant) + 1e-45, "tanh(\(x))")
            #expect(VectorMath.tanh(-x) == -VectorMath.tanh(x))
            let sigmoidWant = 1 / (1 + Foundation.exp(-Double(x)))
            // Below -87.3 exp's input is clamped: the sigmoid is then below 1e-37, not exact.
            #expect(x < -87 || abs(Double(VectorMath.sigmoid(x)) - sigmoidWant) <= 5e-7 * sigmoidWant, "sigmoid(\(x))")
        }
    }

    /// The one-pass kernels of the loss against the passes they replace, on lengths with and
    /// without a tail after the 16-lane chunks, the maximum in the chunks and in the tail.
    @Test func fusedLossKernelsMatchSeparatePasses() {
        var random = RandomSource(seed: 5)
        for count in [1, 15, 16, 37, 1000] {
            let q = (0..<count).map { _ in random.uniform(-2, 2) }
            for peak in [0, count - 1] {
                var scores = (0..<count).map { _ in random.uniform(-5, 5) }
                scores[peak] = 40
                var fused = scores
                let best = fused.withUnsafeMutableBufferPointer { p in
                    VectorMath.addScaledReturningMaximum(p.baseAddress!, q, by: 0.7, count: count)
                }
                for j in 0..<count { scores[j] += 0.7 * q[j] }
                #expect(fused == scores)
                #expect(best == scores.max())

                let target = count / 2
                var separate = scores
                let separateLoss = separate.withUnsafeMutableBufferPointer {
                    SoftmaxCrossEntropy.lossAndGradient(row: $0.baseAddress!, columns: count, target: target, scale: 0.25)
                }
                let separateWeighted = VectorMath.dot(separate, q, count: count)
                let (loss, weighted) = scores.withUnsafeMutableBufferPointer {
                    SoftmaxCrossEntropy.lossAndGradient(
                        row: $0.baseAddress!, columns: count, target: target, scale: 0.25, shift: best, weights: q)
                }
                #expect(loss == separateLoss)
                #expect(scores == separate)
                #expect(abs(weighted - separateWeighted) <= 1e-6 * (1 + abs(separateWeighted)))
            }
        }
    }
}

internal import Dispatch

/// Timings of the training step's kernels against a plain `cblas_sgemm` of the scoring shape,
/// measured in the same process so the ratios hold on any machine.
public enum KernelBenchmark {
    public struct Figures: Sendable {
        /// GFLOP/s of a plain sgemm (B x d) * (d x N), B stored row-major, no transposes.
        public var plainProduct = 0.0
        /// GFLOP/s of the scorer's forward product, (B x d) * E[1...N]^T.
        public var scoring = 0.0
        /// GFLOP/s of the scorer's two backward products together.
        public var scoringBackward = 0.0
        /// GFLOP/s of dE = dL^T s alone and of ds = dL E alone (one BLAS thread, unsplit).
        public var embeddingGradient = 0.0
        public var sessionGradient = 0.0
        /// Milliseconds of the fused softmax cross-entropy over B x N.
        public var lossMilliseconds = 0.0
        /// Milliseconds of one Adam update over all weights.
        public var adamMilliseconds = 0.0
        /// GB/s Adam moves (7 floats read or written per weight).
        public var adamGigabytesPerSecond = 0.0
    }

    /// Runs each kernel `repetitions` times on random data of the given shape.
    public static func run(
        batch: Int = 100, hidden: Int = 100, items: Int = 43_097, repetitions: Int = 20, threads: Int = 2
    ) throws(DANSeRError) -> Figures {
        var configuration = ModelConfiguration.srgnn
        configuration.hiddenSize = hidden
        let model = try Model(configuration: configuration, itemCount: items, seed: 7)
        var random = RandomSource(seed: 11)
        let s = Matrix(rows: batch, cols: hidden, storage: (0..<(batch * hidden)).map { _ in random.uniform(-1, 1) })
        let plainB = (0..<(hidden * items)).map { _ in random.uniform(-1, 1) }
        var logits = [Float](repeating: 0, count: batch * items)
        var values = model.parameters
        var gradients = [Float](repeating: 0, count: values.count)
        var adam = AdamState(parameterCount: values.count)
        let targets = (0..<batch).map { _ in Int32.random(in: 1...Int32(items), using: &random) }
        let flops = 2.0 * Double(batch * hidden * items)
        var figures = Figures()

        func time(_ body: () -> Void) -> Double {
            body()  // warm up
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<repetitions { body() }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(repetitions)
        }

        // The ceiling: OpenBLAS with its own threads; then the project's kernels with BLAS at one thread.
        BLAS.setThreadCount(threads)
        defer { BLAS.setThreadCount(1) }
        s.storage.withUnsafeBufferPointer { sp in
            plainB.withUnsafeBufferPointer { bp in
                logits.withUnsafeMutableBufferPointer { lp in
                    figures.plainProduct = flops / 1e9 / time {
                        BLAS.gemm(
                            transposeA: false, transposeB: false, m: batch, n: items, k: hidden,
                            a: sp.baseAddress!, lda: hidden, b: bp.baseAddress!, ldb: items,
                            c: lp.baseAddress!, ldc: items)
                    }
                }
            }
        }
        BLAS.setThreadCount(1)
        values.withUnsafeMutableBufferPointer { v in
            gradients.withUnsafeMutableBufferPointer { g in
                logits.withUnsafeMutableBufferPointer { l in
                    let p = ParameterAccess(values: v.baseAddress!, gradients: g.baseAddress!)
                    let scorer = model.network.scorer
                    figures.scoring = flops / 1e9 / time { scorer.scores(s, p, into: l.baseAddress!, threads: threads) }
                    figures.lossMilliseconds = 1000 * time {
                        scorer.scores(s, p, into: l.baseAddress!, threads: threads)
                        _ = SoftmaxCrossEntropy.lossAndGradient(
                            logits: l.baseAddress!, rows: batch, columns: items, targets: targets, threads: threads)
                    } - 1000 * flops / 1e9 / figures.scoring
                    figures.scoringBackward = 2 * flops / 1e9 / time {
                        _ = scorer.backward(sessions: s, logitGradient: l.baseAddress!, p, accumulate: false, threads: threads)
                    }
                    let d = hidden
                    var ds = [Float](repeating: 0, count: batch * hidden)
                    figures.embeddingGradient = flops / 1e9 / time {
                        s.storage.withUnsafeBufferPointer { sp in
                            BLAS.gemm(
                                transposeA: true, transposeB: false, m: items, n: d, k: batch,
                                a: l.baseAddress!, lda: items, b: sp.baseAddress!, ldb: d,
                                c: g.baseAddress! + d, ldc: d)
                        }
                    }
                    figures.sessionGradient = flops / 1e9 / time {
                        ds.withUnsafeMutableBufferPointer { dsp in
                            BLAS.gemm(
                                transposeA: false, transposeB: false, m: batch, n: d, k: items,
                                a: l.baseAddress!, lda: items, b: v.baseAddress! + d, ldb: d,
                                c: dsp.baseAddress!, ldc: d)
                        }
                    }
                    // Tiny gradients keep the weights sane over the repetitions.
                    for i in 0..<g.count { g[i] *= 1e-3 }
                    let adamSeconds = time {
                        adam.update(
                            values: v.baseAddress!, gradients: g.baseAddress!, learningRate: 1e-6, l2: 1e-5,
                            threads: threads)
                    }
                    figures.adamMilliseconds = 1000 * adamSeconds
                    figures.adamGigabytesPerSecond = Double(v.count * 7 * 4) / 1e9 / adamSeconds
                }
            }
        }
        return figures
    }
}

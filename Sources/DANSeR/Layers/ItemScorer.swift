internal import Dispatch
internal import Foundation

/// Scores every item for every session, l_j = s . E_j for j = 1...N (MODEL.md section 4, SR-GNN),
/// as sgemm against the embedding table without its padding row. The item range is split into
/// one block per thread, each a single-threaded sgemm (task-level parallelism, BLAS at one
/// thread): with only B = 100 rows, OpenBLAS's own threading scales poorly on this shape.
struct ItemScorer: Sendable {
    let table: ParameterSlot

    var itemCount: Int { table.rows - 1 }

    /// logits (B x N) = s (B x d) * E[1...N]^T.
    func scores(_ s: Matrix, _ p: ParameterAccess, into logits: UnsafeMutablePointer<Float>, threads: Int = 1) {
        let d = s.cols
        let n = itemCount
        let rows = s.rows
        s.storage.withUnsafeBufferPointer { sp in
            let box = UncheckedBox((sp.baseAddress!, p.value(table) + d, logits))
            Parallel.forEachRange(count: n, threads: threads) { items in
                let (a, e, out) = box.value
                BLAS.gemm(
                    transposeA: false, transposeB: true, m: rows, n: items.count, k: d,
                    a: a, lda: d, b: e + items.lowerBound &* d, ldb: d, c: out + items.lowerBound, ldc: n)
            }
        }
    }

    /// Writes dE[1...N] = dLogits^T s (overwriting, or adding when `accumulate`) and returns ds = dLogits E[1...N].
    func backward(
        sessions s: Matrix, logitGradient: UnsafePointer<Float>, _ p: ParameterAccess, accumulate: Bool,
        threads: Int = 1
    ) -> Matrix {
        let d = s.cols
        let n = itemCount
        let rows = s.rows
        let parts = max(1, min(threads, n))
        // One partial ds per item block, summed in a fixed order afterwards (reproducible).
        var partial = [Float](repeating: 0, count: parts * rows * d)
        s.storage.withUnsafeBufferPointer { sp in
            partial.withUnsafeMutableBufferPointer { pp in
                let box = UncheckedBox((sp.baseAddress!, p.value(table) + d, p.gradient(table) + d, logitGradient, pp.baseAddress!))
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    let (a, e, ge, dl, out) = box.value
                    let lower = n * part / parts
                    let count = n * (part + 1) / parts - lower
                    BLAS.gemm(
                        transposeA: true, transposeB: false, m: count, n: d, k: rows,
                        a: dl + lower, lda: n, b: a, ldb: d,
                        beta: accumulate ? 1 : 0, c: ge + lower &* d, ldc: d)
                    BLAS.gemm(
                        transposeA: false, transposeB: false, m: rows, n: d, k: count,
                        a: dl + lower, lda: n, b: e + lower &* d, ldb: d,
                        c: out + part &* rows &* d, ldc: d)
                }
            }
        }
        return Self.sum(partial, parts: parts, rows: rows, cols: d)
    }
}

extension ItemScorer {
    /// The sum of `parts` stacked (rows x cols) partial products, added in part order.
    private static func sum(_ partial: [Float], parts: Int, rows: Int, cols: Int) -> Matrix {
        var total = Matrix(rows: rows, cols: cols, storage: Array(partial[0..<(rows * cols)]))
        for part in 1..<parts {
            let base = part * rows * cols
            for i in 0..<(rows * cols) { total.storage[i] += partial[base + i] }
        }
        return total
    }

    /// ds = dLogits E[1...N] alone (B x d), the item range split across `threads`, the partial
    /// products summed in a fixed order afterwards (reproducible). `table` is the (N + 1) x d
    /// table the scores were computed with (the embedding, or the normalized one).
    static func sessionGradient(
        logitGradient dl: UnsafePointer<Float>, rows: Int, table: UnsafePointer<Float>, itemCount n: Int, hidden d: Int,
        threads: Int
    ) -> Matrix {
        let parts = max(1, min(threads, n))
        var partial = [Float](repeating: 0, count: parts * rows * d)
        partial.withUnsafeMutableBufferPointer { pp in
            let box = UncheckedBox((dl, table + d, pp.baseAddress!))
            Parallel.forEachRange(count: parts, threads: parts) { range in
                let (dl, items, out) = box.value
                for part in range {
                    let lower = n * part / parts
                    let count = n * (part + 1) / parts - lower
                    BLAS.gemm(
                        transposeA: false, transposeB: false, m: rows, n: d, k: count,
                        a: dl + lower, lda: n, b: items + lower &* d, ldb: d,
                        c: out + part &* rows &* d, ldc: d)
                }
            }
        }
        return Self.sum(partial, parts: parts, rows: rows, cols: d)
    }
}

/// Mean softmax cross-entropy over all items, fused with its gradient: one pass per row turns
/// the logits into (softmax - onehot) / B in place.
enum SoftmaxCrossEntropy {
    /// `targets` are item ids 1...N (column target - 1). Returns the summed (not mean) loss.
    static func lossAndGradient(
        logits: UnsafeMutablePointer<Float>, rows: Int, columns: Int, targets: [Int32], threads: Int
    ) -> Double {
        let scale = 1 / Float(rows)
        let losses = UnsafeMutableBufferPointer<Double>.allocate(capacity: rows)
        defer { losses.deallocate() }
        let logitsBox = UncheckedBox(logits)
        let lossBox = UncheckedBox(losses)
        Parallel.forEachRange(count: rows, threads: threads) { range in
            for row in range {
                lossBox.value[row] = Self.lossAndGradient(
                    row: logitsBox.value + row &* columns, columns: columns, target: Int(targets[row]) - 1, scale: scale)
            }
        }
        return losses.reduce(0, +)
    }

    /// One row: turns its logits into (softmax - onehot(target)) * scale in place and returns
    /// its loss (`target` is the column, 0-based).
    @inline(__always)
    static func lossAndGradient(row p: UnsafeMutablePointer<Float>, columns: Int, target: Int, scale: Float) -> Double {
        lossAndGradient(
            row: p, columns: columns, target: target, scale: scale, shift: VectorMath.maximum(p, count: columns),
            weights: nil
        ).loss
    }

    /// The same for a row whose maximum `shift` is known, also returning sum_j g_j w_j of the
    /// gradient g it writes when `weights` are given (else 0): the scaling and the weighted sum
    /// share one pass over the row.
    @inline(__always)
    static func lossAndGradient(
        row p: UnsafeMutablePointer<Float>, columns: Int, target: Int, scale: Float, shift: Float,
        weights: UnsafePointer<Float>?
    ) -> (loss: Double, weighted: Float) {
        let targetLogit = p[target]
        let sum = VectorMath.expSubtractingInPlace(p, count: columns, shift: shift)
        var weighted: Float = 0
        if let weights {
            weighted = VectorMath.scaleReturningDot(p, by: scale / sum, weights, count: columns) - scale * weights[target]
        } else {
            VectorMath.scale(p, count: columns, by: scale / sum)
        }
        p[target] -= scale
        return (Double(logf(sum) + shift - targetLogit), weighted)
    }

    /// The same with label smoothing `epsilon`: the target distribution is (1 - epsilon)
    /// onehot(target) + epsilon / columns, the loss -sum_j q_j log p_j and the gradient
    /// (softmax - q) * scale. Epsilon 0 is exactly the plain row.
    static func lossAndGradient(
        row p: UnsafeMutablePointer<Float>, columns: Int, target: Int, scale: Float, smoothing epsilon: Float
    ) -> Double {
        guard epsilon > 0 else { return lossAndGradient(row: p, columns: columns, target: target, scale: scale) }
        let targetLogit = p[target]
        var total = 0.0
        for column in 0..<columns { total += Double(p[column]) }
        let shift = VectorMath.maximum(p, count: columns)
        let sum = VectorMath.expSubtractingInPlace(p, count: columns, shift: shift)
        VectorMath.scale(p, count: columns, by: scale / sum)
        let uniform = scale * epsilon / Float(columns)
        for column in 0..<columns { p[column] -= uniform }
        p[target] -= scale * (1 - epsilon)
        let e = Double(epsilon)
        return Double(logf(sum) + shift) - (1 - e) * Double(targetLogit) - e * total / Double(columns)
    }
}

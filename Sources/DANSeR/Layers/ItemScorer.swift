internal import Foundation

/// Scores every item for every session, l_j = s . E_j for j = 1...N (MODEL.md section 4, SR-GNN),
/// as one sgemm against the embedding table without its padding row.
struct ItemScorer: Sendable {
    let table: ParameterSlot

    var itemCount: Int { table.rows - 1 }

    /// logits (B x N) = s (B x d) * E[1...N]^T.
    func scores(_ s: Matrix, _ p: ParameterAccess, into logits: UnsafeMutablePointer<Float>) {
        let d = s.cols
        s.storage.withUnsafeBufferPointer { sp in
            BLAS.gemm(
                transposeA: false, transposeB: true, m: s.rows, n: itemCount, k: d,
                a: sp.baseAddress!, lda: d, b: p.value(table) + d, ldb: d, c: logits, ldc: itemCount)
        }
    }

    /// Writes dE[1...N] = dLogits^T s (overwriting, or adding when `accumulate`) and returns ds = dLogits E[1...N].
    func backward(
        sessions s: Matrix, logitGradient: UnsafePointer<Float>, _ p: ParameterAccess, accumulate: Bool
    ) -> Matrix {
        let d = s.cols
        var ds = Matrix(rows: s.rows, cols: d)
        s.storage.withUnsafeBufferPointer { sp in
            BLAS.gemm(
                transposeA: true, transposeB: false, m: itemCount, n: d, k: s.rows,
                a: logitGradient, lda: itemCount, b: sp.baseAddress!, ldb: d,
                beta: accumulate ? 1 : 0, c: p.gradient(table) + d, ldc: d)
        }
        ds.storage.withUnsafeMutableBufferPointer { dsp in
            BLAS.gemm(
                transposeA: false, transposeB: false, m: s.rows, n: d, k: itemCount,
                a: logitGradient, lda: itemCount, b: p.value(table) + d, ldb: d,
                c: dsp.baseAddress!, ldc: d)
        }
        return ds
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
                let p = logitsBox.value + row &* columns
                let target = Int(targets[row]) - 1
                let targetLogit = p[target]
                let shift = VectorMath.maximum(p, count: columns)
                let sum = VectorMath.expSubtractingInPlace(p, count: columns, shift: shift)
                VectorMath.scale(p, count: columns, by: scale / sum)
                p[target] -= scale
                lossBox.value[row] = Double(logf(sum) + shift - targetLogit)
            }
        }
        return losses.reduce(0, +)
    }
}

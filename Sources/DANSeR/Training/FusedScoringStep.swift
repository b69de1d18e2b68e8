internal import Foundation

/// The memory-lean form of the scoring phase for training. The (B x N) matrix and the
/// (N x d) embedding gradient are the largest things a step touches, so:
/// - the softmax leaves P = exp(l - max) unnormalized; the per-row factor c_b = 1 / (B Z_b)
///   and the -1/B at the target are applied to the small factors of the backward products;
/// - dE is never stored whole: each block of rows is computed into a cache-sized buffer,
///   gets the sparse gradients of the lookup added, and goes straight through Adam.
/// `SoftmaxCrossEntropy` and `ItemScorer.backward` are the plain reference the tests compare with.
struct FusedScoringStep {
    let scorer: ItemScorer
    let threads: Int
    /// Table rows per block of the fused embedding update (a 200 KB buffer at d = 100).
    static let blockRows = 512

    /// Turns logits into P in place; returns the summed loss and c_b = 1 / (B Z_b) per row.
    func exponentiate(logits: UnsafeMutablePointer<Float>, rows: Int, targets: [Int32]) -> (Double, [Float]) {
        let n = scorer.itemCount
        var scales = [Float](repeating: 0, count: rows)
        var losses = [Double](repeating: 0, count: rows)
        let invRows = 1 / Float(rows)
        scales.withUnsafeMutableBufferPointer { sp in
            losses.withUnsafeMutableBufferPointer { lp in
                let box = UncheckedBox((logits, sp.baseAddress!, lp.baseAddress!))
                Parallel.forEachRange(count: rows, threads: threads) { range in
                    let (logits, scales, losses) = box.value
                    for row in range {
                        let p = logits + row &* n
                        let targetLogit = p[Int(targets[row]) - 1]
                        let shift = VectorMath.maximum(p, count: n)
                        let sum = VectorMath.expSubtractingInPlace(p, count: n, shift: shift)
                        scales[row] = invRows / sum
                        losses[row] = Double(logf(sum) + shift - targetLogit)
                    }
                }
            }
        }
        return (losses.reduce(0, +), scales)
    }

    /// ds_b = c_b (P E[1...N])_b - E[t_b] / B.
    func sessionGradient(
        probabilities: UnsafePointer<Float>, scales: [Float], targets: [Int32], hidden d: Int, _ p: ParameterAccess
    ) -> Matrix {
        let rows = scales.count
        let e = p.value(scorer.table)
        var ds = ItemScorer.sessionGradient(
            logitGradient: probabilities, rows: rows, table: e, itemCount: scorer.itemCount, hidden: d, threads: threads)
        let invRows = 1 / Float(rows)
        for row in 0..<rows {
            let target = e + Int(targets[row]) &* d
            for col in 0..<d {
                ds.storage[row * d + col] = scales[row] * ds.storage[row * d + col] - invRows * target[col]
            }
        }
        return ds
    }

    /// dE = P^T (c * s) - onehot(t)^T s / B + (sparse lookup gradients already in the gradient
    /// buffer's `touchedRows`), applied block by block through Adam; touched rows are re-zeroed.
    func updateEmbedding(
        probabilities: UnsafePointer<Float>, scales: [Float], sessions s: Matrix, targets: [Int32],
        touchedRows: [Int32], adam: AdamState.Step, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
        _ p: ParameterAccess
    ) {
        let table = scorer.table
        let d = table.cols
        let rows = scales.count
        let gradients = p.gradient(table)
        // The target term is sparse: fold it into the gradient buffer with the lookup gradients.
        let invRows = 1 / Float(rows)
        for row in 0..<rows {
            let target = gradients + Int(targets[row]) &* d
            for col in 0..<d { target[col] -= invRows * s.storage[row * d + col] }
        }
        var scaled = s
        for row in 0..<rows {
            for col in 0..<d { scaled.storage[row * d + col] *= scales[row] }
        }
        updateTable(
            logitGradient: probabilities, rows: rows, sessions: scaled, touchedRows: touchedRows + targets,
            adam: adam, m: m, v: v, p, normalized: nil)
    }

    /// dE = dL^T s (`logitGradient` B x N, `sessions` B x d) + (sparse gradients already in the
    /// gradient buffer's `touchedRows`, re-zeroed here), applied block by block through Adam.
    /// With `normalized` (NISER) that sum is the gradient of the normalized table: each block
    /// is taken back through the normalization before Adam, and afterwards the normalized rows
    /// of the updated block are written for the next step.
    func updateTable(
        logitGradient: UnsafePointer<Float>, rows: Int, sessions: Matrix, touchedRows: [Int32],
        adam: AdamState.Step, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, _ p: ParameterAccess,
        normalized: ScoringHead.NormalizedRows?
    ) {
        let table = scorer.table
        let d = table.cols
        let n = scorer.itemCount
        let gradients = p.gradient(table)
        let sorted = Array(Set(touchedRows)).sorted()
        let tableRows = n + 1
        sessions.storage.withUnsafeBufferPointer { sp in
            let box = UncheckedBox((logitGradient, sp.baseAddress!, p.value(table), gradients, m + table.offset, v + table.offset))
            Parallel.forEachRange(count: tableRows, threads: threads) { range in
                let (probabilities, scaled, values, gradients, m, v) = box.value
                let buffer = UnsafeMutablePointer<Float>.allocate(capacity: Self.blockRows * d)
                defer { buffer.deallocate() }
                var lower = range.lowerBound
                var touched = sorted.partitioningIndex { Int($0) >= lower }
                while lower < range.upperBound {
                    let upper = min(range.upperBound, lower + Self.blockRows)
                    // Table row r >= 1 is item r, column r - 1 of P; row 0 (padding) is never scored.
                    let first = max(lower, 1)
                    if lower == 0 { buffer.update(repeating: 0, count: d) }
                    BLAS.gemm(
                        transposeA: true, transposeB: false, m: upper - first, n: d, k: rows,
                        a: probabilities + (first - 1), lda: n, b: scaled, ldb: d,
                        c: buffer + (first - lower) &* d, ldc: d)
                    while touched < sorted.count, Int(sorted[touched]) < upper {
                        let row = Int(sorted[touched])
                        let source = gradients + row &* d
                        let target = buffer + (row - lower) &* d
                        for col in 0..<d {
                            target[col] += source[col]
                            source[col] = 0
                        }
                        touched += 1
                    }
                    // The buffer holds rows lower..<upper; shift pointers so indices line up.
                    let offset = lower &* d
                    if let normalized {
                        normalized.tangentGradient(rows: first..<upper, gradient: buffer - offset, table: values)
                    }
                    AdamState.apply(
                        adam, values: values, gradients: buffer - offset, m: m, v: v,
                        range: offset..<(upper &* d))
                    normalized?.normalize(rows: first..<upper, of: values)
                    lower = upper
                }
            }
        }
    }
}

extension Array where Element == Int32 {
    /// The first index whose element satisfies `predicate` (which must be false then true).
    fileprivate func partitioningIndex(where predicate: (Int32) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if predicate(self[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}

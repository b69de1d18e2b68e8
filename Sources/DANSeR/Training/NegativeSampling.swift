internal import Foundation

/// Self-adaptive negative sampling (MODEL.md section 6). Selection reads detached scores; the
/// hard loss then contrasts the target with the selected columns of the same score matrix, so
/// gradients flow through the gathered scores only, never through the selection.
enum NegativeSampling {
    /// Columns of the hard negatives of one session: of the top `candidates` scores other than
    /// the target's, those within `margin` of the target score, and at least the highest one.
    static func hardNegatives(
        _ scores: UnsafePointer<Float>, count: Int, target: Int, candidates: Int, margin: Float,
        scratch: inout [(index: Int32, score: Float)]
    ) -> [Int32] {
        let threshold = scores[target] - margin
        // The target itself is within its own margin: discount it.
        let within = VectorMath.countAtLeast(scores, count: count, threshold: threshold) - 1
        if within > candidates {
            // The whole top M lies within the margin. Raise the bar by bisection on the value
            // (each probe one vectorized count) until at most 2M remain, then sort those few.
            func others(atLeast value: Float) -> Int {
                VectorMath.countAtLeast(scores, count: count, threshold: value) - (scores[target] >= value ? 1 : 0)
            }
            var low = threshold
            var high = VectorMath.maximum(scores, count: count)
            var remaining = within
            while remaining > 2 * candidates {
                let middle = low + (high - low) / 2
                if middle <= low || middle >= high { break }
                let above = others(atLeast: middle)
                if above >= candidates {
                    low = middle
                    remaining = above
                } else {
                    high = middle
                }
            }
            scratch.removeAll(keepingCapacity: true)
            VectorMath.forEachAtLeast(scores, count: count, threshold: low) { j in
                if j != target { scratch.append((Int32(j), scores[j])) }
            }
            // Best first, smaller index first among equals; keep M.
            scratch.sort { $0.score > $1.score || ($0.score == $1.score && $0.index < $1.index) }
            if scratch.count > candidates { scratch.removeLast(scratch.count - candidates) }
            return scratch.map(\.index)
        }
        if within <= 0 {
            // None within the margin: the single highest other score.
            guard count > 1 else { return [] }
            return [Int32(VectorMath.indexOfMaximum(scores, count: count, excluding: target))]
        }
        var hard: [Int32] = []
        hard.reserveCapacity(within)
        VectorMath.forEachAtLeast(scores, count: count, threshold: threshold) { j in
            if j != target { hard.append(Int32(j)) }
        }
        return hard
    }

    /// The uniform ablation: `size` distinct columns other than `target`, drawn uniformly.
    static func uniformNegatives(
        count: Int, target: Int, size: Int, random: inout RandomSource
    ) -> [Int32] {
        let size = min(size, count - 1)
        var chosen = Set<Int32>()
        while chosen.count < size {
            let column = Int32(random.next() % UInt64(count))
            if column != Int32(target) { chosen.insert(column) }
        }
        return chosen.sorted()
    }

    /// Adds lambda * L_hard of each row to the loss and its gradient (divided by the row count,
    /// like the cross-entropy's) to `gradient`:
    ///   L_hard = log(exp(l_t) + sum_{j in H} exp(l_j)) - l_t.
    /// `scores` are the rows' gathered scores (target first, then the negatives' in order).
    static func addHardLoss(
        scores: [[Float]], columns: [[Int32]], targets: [Int], weight: Float, rows: Int, width: Int,
        gradient: UnsafeMutablePointer<Float>
    ) -> Double {
        var loss = 0.0
        for row in 0..<scores.count {
            loss += addHardLoss(
                scores: scores[row], columns: columns[row], target: targets[row], weight: weight, rows: rows,
                gradient: gradient + row &* width)
        }
        return loss
    }

    /// One row of `addHardLoss`: `gradient` is that row's.
    static func addHardLoss(
        scores gathered: [Float], columns: [Int32], target: Int, weight: Float, rows: Int,
        gradient g: UnsafeMutablePointer<Float>
    ) -> Double {
        let factor = weight / Float(rows)
        let shift = gathered.max() ?? 0
        let exps = gathered.map { VectorMath.exp($0 - shift) }
        let total = exps.reduce(0, +)
        g[target] += factor * (exps[0] / total - 1)
        for (i, column) in columns.enumerated() { g[Int(column)] += factor * exps[i + 1] / total }
        return Double(weight) * Double(logf(total) + shift - gathered[0])
    }
}


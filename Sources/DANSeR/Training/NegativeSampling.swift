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
            // The whole top M lies within the margin. Collect what is within it, then halve the
            // value range until the pool holds M (a quickselect by value; the pool only shrinks).
            scratch.removeAll(keepingCapacity: true)
            for j in 0..<count where j != target && scores[j] >= threshold { scratch.append((Int32(j), scores[j])) }
            var low = threshold
            var high = VectorMath.maximum(scores, count: count)
            while scratch.count > candidates {
                let middle = low + (high - low) / 2
                if middle <= low || middle >= high { break }
                var above = 0
                for entry in scratch where entry.score >= middle { above += 1 }
                if above >= candidates {
                    scratch.removeAll { $0.score < middle }
                    low = middle
                } else {
                    high = middle
                }
            }
            if scratch.count > candidates {
                // Ties at the boundary: keep the best, smaller index first among equals.
                scratch.sort { $0.score > $1.score || ($0.score == $1.score && $0.index < $1.index) }
                scratch.removeLast(scratch.count - candidates)
            }
            return scratch.map(\.index)
        }
        if within <= 0 {
            // None within the margin: the single highest other score.
            var best = target == 0 ? 1 : 0
            for j in 0..<count where j != target && scores[j] > scores[best] { best = j }
            return count > 1 ? [Int32(best)] : []
        }
        var hard: [Int32] = []
        hard.reserveCapacity(within)
        for j in 0..<count where j != target && scores[j] >= threshold { hard.append(Int32(j)) }
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
        let factor = weight / Float(rows)
        for row in 0..<scores.count {
            let gathered = scores[row]
            let shift = gathered.max() ?? 0
            let exps = gathered.map { VectorMath.exp($0 - shift) }
            let total = exps.reduce(0, +)
            loss += Double(weight) * Double(logf(total) + shift - gathered[0])
            let g = gradient + row &* width
            g[targets[row]] += factor * (exps[0] / total - 1)
            for (i, column) in columns[row].enumerated() { g[Int(column)] += factor * exps[i + 1] / total }
        }
        return loss
    }
}


/// Selection of the K best of N scores, the last step of precomputing recommendations. A scan
/// that keeps the current K best in a small sorted buffer: after the first few hundred items
/// almost every block of 64 scores has its maximum below the K-th best, so the cost is one
/// vectorized max pass over the row.
enum TopK {
    /// The `k` highest of `scores[0..<count]` as (index, score), best first; ties go to the smaller
    /// index so results are reproducible. Indices in `excluded` are skipped. NaN never ranks.
    static func select(
        _ scores: UnsafePointer<Float>, count: Int, k: Int, excluded: Set<Int32> = [],
        into result: inout [(index: Int32, score: Float)]
    ) {
        result.removeAll(keepingCapacity: true)
        guard k > 0 else { return }
        var threshold = -Float.infinity  // the k-th best once the buffer is full
        var index = 0
        let width = 64
        func offer(_ i: Int) {
            let score = scores[i]
            guard score > threshold || (result.count < k && score >= threshold), !score.isNaN,
                excluded.isEmpty || !excluded.contains(Int32(i))
            else { return }
            // Insert keeping best-first order; equal scores keep the earlier (smaller) index first.
            var position = result.count
            while position > 0 && result[position - 1].score < score { position -= 1 }
            if position >= k { return }
            result.insert((Int32(i), score), at: position)
            if result.count > k { result.removeLast() }
            if result.count == k { threshold = result[k - 1].score }
        }
        while index &+ width <= count {
            // A NaN maximum may hide real candidates: such a block is offered score by score.
            let blockMaximum = VectorMath.maximum(scores + index, count: width)
            if result.count < k || blockMaximum > threshold || blockMaximum.isNaN {
                for lane in 0..<width { offer(index &+ lane) }
            }
            index &+= width
        }
        while index < count {
            offer(index)
            index &+= 1
        }
    }
}

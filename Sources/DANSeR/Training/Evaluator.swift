internal import Foundation

/// Full-ranking evaluation (MODEL.md section 8): every prefix is scored against all items;
/// the target's rank is the number of items scored strictly higher. Sessions never share
/// anything within a batch, so the figures do not depend on batch size or order.
public struct EvaluationResult: Sendable, Equatable {
    public let cutoffs: [Int]
    public internal(set) var count = 0
    /// How many examples had each rank below the largest cutoff. The metrics are sums over
    /// this histogram in rank order, so they do not depend on the order of the examples.
    public internal(set) var rankCounts: [Int]

    init(cutoffs: [Int]) {
        self.cutoffs = cutoffs
        rankCounts = [Int](repeating: 0, count: cutoffs.max() ?? 0)
    }

    /// Records one example whose target has `rank` items above it (0 = first).
    mutating func record(rank: Int) {
        count += 1
        if rank < rankCounts.count { rankCounts[rank] += 1 }
    }

    private func mean(_ k: Int, _ gain: (Int) -> Double) -> Double {
        guard cutoffs.contains(k), count > 0 else { return .nan }
        var sum = 0.0
        for rank in 0..<k { sum += Double(rankCounts[rank]) * gain(rank) }
        return sum / Double(count)
    }

    /// P@K (hit rate) as a fraction.
    public func precision(at k: Int) -> Double { mean(k) { _ in 1 } }
    /// MRR@K as a fraction (0 beyond K).
    public func reciprocalRank(at k: Int) -> Double { mean(k) { 1 / Double($0 + 1) } }
    /// NDCG@K with one relevant item, as a fraction.
    public func ndcg(at k: Int) -> Double { mean(k) { 1 / log2(Double($0 + 2)) } }
}

public enum Evaluator {
    /// Ranks every example of `examples` against all items.
    public static func evaluate(
        _ model: Model, on examples: PrefixSet, indices: [Int]? = nil, cutoffs: [Int] = [10, 20],
        batchSize: Int = 100, threads: Int = 1
    ) -> EvaluationResult {
        let all = indices ?? Array(0..<examples.count)
        var result = EvaluationResult(cutoffs: cutoffs)
        let n = model.itemCount
        var logits = [Float](repeating: 0, count: max(1, batchSize) * n)
        var ranks = [Int](repeating: 0, count: max(1, batchSize))
        let table = model.scoringTable(threads: threads)
        var lower = 0
        while lower < all.count {
            let indices = all[lower..<min(all.count, lower + max(1, batchSize))]
            lower += indices.count
            let batch = SessionBatch(examples, indices: indices, maxLength: model.configuration.maxSessionLength)
            logits.withUnsafeMutableBufferPointer { buffer in
                // The one scoring path of the model, as `Recommender` publishes with.
                model.scores(batch, table: table, into: buffer.baseAddress!, threads: threads)
                let logitBox = UncheckedBox(UnsafePointer(buffer.baseAddress!))
                ranks.withUnsafeMutableBufferPointer { rankBuffer in
                    let rankBox = UncheckedBox(rankBuffer.baseAddress!)
                    let targets = batch.targets
                    Parallel.forEachRange(count: batch.count, threads: threads) { range in
                        for row in range {
                            let scores = logitBox.value + row * n
                            let targetScore = scores[Int(targets[row]) - 1]
                            rankBox.value[row] = VectorMath.countGreater(scores, count: n, than: targetScore)
                        }
                    }
                }
            }
            for row in 0..<batch.count { result.record(rank: ranks[row]) }
        }
        return result
    }
}

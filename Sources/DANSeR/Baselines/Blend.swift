/// A neural model (DANSeR or SR-GNN) and a fitted simple contender by score interpolation:
/// for a prefix, the model's scores become a softmax distribution p over the catalogue, the
/// contender's scores a distribution c (its positive scores over their sum; items it does not
/// score get 0), and an item's blended score is (1 - weight) · p + weight · c. Both sides are
/// probabilities, so the weight means the same whatever scale either model's scores have.
public struct Blend: Sendable {
    public let model: Model
    public let contender: FittedContender
    /// The contender's share, 0...1 (0 is the model alone, 1 the contender alone).
    public let weight: Float

    public init(model: Model, contender: FittedContender, weight: Float) {
        precondition(model.itemCount == contender.itemCount, "the model and the contender must share one catalogue")
        self.model = model
        self.contender = contender
        self.weight = weight
    }

    /// Full-ranking evaluation of the blend at every weight of `weights` in one pass (the two
    /// models score each prefix once): one result per weight. The target's rank is the number of
    /// items with a higher blended score, as `Evaluator` ranks the model alone.
    public static func evaluate(
        _ model: Model, _ contender: FittedContender, on examples: PrefixSet, weights: [Float], cutoffs: [Int] = [10, 20],
        batchSize: Int = 100, threads: Int = 1
    ) -> [EvaluationResult] {
        precondition(model.itemCount == contender.itemCount, "the model and the contender must share one catalogue")
        var results = [EvaluationResult](repeating: EvaluationResult(cutoffs: cutoffs), count: weights.count)
        let n = model.itemCount
        let size = max(1, batchSize)
        var logits = [Float](repeating: 0, count: size * n)
        var ranks = [Int](repeating: 0, count: size * weights.count)
        let table = model.scoringTable(threads: threads)
        var lower = 0
        while lower < examples.count {
            let indices = Array(lower..<min(examples.count, lower + size))
            lower += indices.count
            let batch = SessionBatch(examples, indices: indices[...], maxLength: model.configuration.maxSessionLength)
            logits.withUnsafeMutableBufferPointer { logitBuffer in
                model.scores(batch, table: table, into: logitBuffer.baseAddress!, threads: threads)
                ranks.withUnsafeMutableBufferPointer { rankBuffer in
                    let box = UncheckedBox((logitBuffer.baseAddress!, rankBuffer.baseAddress!))
                    Parallel.forEachRange(count: indices.count, threads: threads) { range in
                        let (logits, ranks) = box.value
                        var scorer = Mixer(contender: contender, itemCount: n)
                        for row in range {
                            let index = indices[row]
                            let probabilities = logits + row * n
                            scorer.load(examples.prefix(index), probabilities: probabilities, count: n)
                            let target = Int(examples.target(index)) - 1
                            for (w, weight) in weights.enumerated() {
                                ranks[row * weights.count + w] = scorer.countAbove(target, weight: weight, probabilities: probabilities, count: n)
                            }
                        }
                    }
                }
            }
            for row in 0..<indices.count {
                for w in weights.indices { results[w].record(rank: ranks[row * weights.count + w]) }
            }
        }
        return results
    }

    /// Full-ranking evaluation at this blend's weight.
    public func evaluate(on examples: PrefixSet, cutoffs: [Int] = [10, 20], threads: Int = 1) -> EvaluationResult {
        Self.evaluate(model, contender, on: examples, weights: [weight], cutoffs: cutoffs, threads: threads)[0]
    }

    /// Top `k` of every session by blended score, best first (ties by smaller id). Unknown clicks
    /// are left out; a session with no known click gets an empty list. With `excludeSeen`, items
    /// of the session are never recommended.
    public func topK(_ sessions: [Session], k: Int, excludeSeen: Bool = false, batchSize: Int = 100, threads: Int = 1) -> [[Recommendation]] {
        let n = model.itemCount
        let maxLength = model.configuration.maxSessionLength
        let size = max(1, batchSize)
        var results = [[Recommendation]](repeating: [], count: sessions.count)
        var logits = [Float](repeating: 0, count: size * n)
        let table = model.scoringTable(threads: threads)
        var lower = 0
        while lower < sessions.count {
            let upper = min(sessions.count, lower + size)
            let known = sessions[lower..<upper].map { $0.filter { $0 > 0 && Int($0) <= n } }
            lower = upper
            let scorable = known.indices.filter { !known[$0].isEmpty }
            guard !scorable.isEmpty else { continue }
            let first = upper - known.count
            let batch = SessionBatch(
                prefixes: scorable.map { known[$0].suffix(maxLength) }, targets: [Int32](repeating: 0, count: scorable.count))
            logits.withUnsafeMutableBufferPointer { logitBuffer in
                model.scores(batch, table: table, into: logitBuffer.baseAddress!, threads: threads)
                results.withUnsafeMutableBufferPointer { resultBuffer in
                    let box = UncheckedBox((logitBuffer.baseAddress!, resultBuffer.baseAddress!))
                    Parallel.forEachRange(count: scorable.count, threads: threads) { range in
                        let (logits, out) = box.value
                        var scorer = Mixer(contender: contender, itemCount: n)
                        var top: [(index: Int32, score: Float)] = []
                        for row in range {
                            let index = scorable[row]
                            let probabilities = logits + row * n
                            scorer.load(known[index][...], probabilities: probabilities, count: n)
                            scorer.blend(into: probabilities, weight: weight, count: n)
                            let excluded = excludeSeen ? Set(known[index].map { $0 - 1 }) : []
                            TopK.select(probabilities, count: n, k: k, excluded: excluded, into: &top)
                            out[first + index] = top.map { Recommendation(item: $0.index + 1, score: $0.score) }
                        }
                    }
                }
            }
        }
        return results
    }
}

/// Per-thread scratch of a blend: the contender's distribution for one prefix, dense.
private struct Mixer {
    let score: (ArraySlice<Int32>, inout ItemScores) -> Void
    var scores: ItemScores
    /// c, dense by column (item - 1); zero except the contender's items.
    var shares: [Float]
    var items: [Int32] = []

    init(contender: FittedContender, itemCount: Int) {
        score = contender.makeScorer()
        scores = ItemScores(itemCount: itemCount)
        shares = [Float](repeating: 0, count: itemCount)
    }

    /// Turns `probabilities` (the model's scores) into a softmax in place and loads the contender's shares for `prefix`.
    mutating func load(_ prefix: ArraySlice<Int32>, probabilities: UnsafeMutablePointer<Float>, count: Int) {
        let maximum = VectorMath.maximum(probabilities, count: count)
        let total = VectorMath.expSubtractingInPlace(probabilities, count: count, shift: maximum)
        if total > 0 { VectorMath.scale(probabilities, count: count, by: 1 / total) }
        for item in items { shares[Int(item) - 1] = 0 }
        scores.removeAll()
        score(prefix, &scores)
        items = scores.items
        var sum: Float = 0
        for item in items { sum += max(0, scores.values[Int(item)]) }
        guard sum > 0, sum.isFinite else { return }
        for item in items { shares[Int(item) - 1] = max(0, scores.values[Int(item)]) / sum }
    }

    /// Items whose blended score is above the target column's.
    func countAbove(_ target: Int, weight: Float, probabilities: UnsafeMutablePointer<Float>, count: Int) -> Int {
        let keep = 1 - weight
        let threshold = keep * probabilities[target] + weight * shares[target]
        var above = 0
        shares.withUnsafeBufferPointer { c in
            for i in 0..<count where keep * probabilities[i] + weight * c[i] > threshold { above += 1 }
        }
        return above
    }

    /// probabilities[i] = (1 - weight) · p[i] + weight · c[i], in place.
    func blend(into probabilities: UnsafeMutablePointer<Float>, weight: Float, count: Int) {
        let keep = 1 - weight
        if keep != 1 { VectorMath.scale(probabilities, count: count, by: keep) }
        for item in items { probabilities[Int(item) - 1] += weight * shares[Int(item) - 1] }
    }
}

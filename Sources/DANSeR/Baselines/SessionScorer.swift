/// Scores of one session prefix over dense item ids: only the items a model scored take part in
/// the ranking (an item nobody scored is never recommended). One per thread, reused per prefix.
public struct ItemScores {
    /// Score of each item id (0...itemCount); meaningful only for `items`.
    public private(set) var values: [Float]
    /// The items that have a score, in the order they got one.
    public private(set) var items: [Int32] = []
    private var scored: [Bool]

    public init(itemCount: Int) {
        values = [Float](repeating: 0, count: itemCount + 1)
        scored = [Bool](repeating: false, count: itemCount + 1)
    }

    /// Adds `amount` to `item`'s score (the item then takes part in the ranking, even at 0).
    @inline(__always)
    public mutating func add(_ item: Int32, _ amount: Float) {
        let index = Int(item)
        if scored[index] {
            values[index] += amount
        } else {
            scored[index] = true
            values[index] = amount
            items.append(item)
        }
    }

    public func score(of item: Int32) -> Float? { scored[Int(item)] ? values[Int(item)] : nil }

    public mutating func removeAll() {
        for item in items {
            scored[Int(item)] = false
            values[Int(item)] = 0
        }
        items.removeAll(keepingCapacity: true)
    }

    /// The one order of recommendations: higher score first, ties by smaller item id.
    @inline(__always)
    static func ranksBefore(_ a: Int32, _ aScore: Float, _ b: Int32, _ bScore: Float) -> Bool {
        aScore != bScore ? aScore > bScore : a < b
    }

    /// Items ranked before `target` in recommendation order, or nil when `target` has no score.
    func rank(of target: Int32) -> Int? {
        guard scored[Int(target)] else { return nil }
        let targetScore = values[Int(target)]
        var rank = 0
        for item in items where Self.ranksBefore(item, values[Int(item)], target, targetScore) { rank += 1 }
        return rank
    }
}

/// A session recommender that scores a prefix item by item (the nearest-neighbour, rule and
/// linear item-item contenders). Everything else, recommendation order, top-K and evaluation, is
/// shared, so every contender is measured exactly as the others and as SR-GNN/DANSeR are.
public protocol SessionScorer: Sendable {
    /// Per-thread scratch space the scorer reuses between prefixes.
    associatedtype Workspace
    /// N: dense items are 1...itemCount.
    var itemCount: Int { get }
    func makeWorkspace() -> Workspace
    /// Adds the scores for `prefix` to `scores` (which the caller has emptied).
    func score(_ prefix: ArraySlice<Int32>, into scores: inout ItemScores, workspace: inout Workspace)
}

extension SessionScorer {
    /// Scores of the items the model scores for `prefix`, as (item, score).
    public func scores(for prefix: ArraySlice<Int32>) -> [Int32: Float] {
        var scores = ItemScores(itemCount: itemCount)
        var workspace = makeWorkspace()
        score(prefix, into: &scores, workspace: &workspace)
        var result: [Int32: Float] = [:]
        for item in scores.items { result[item] = scores.values[Int(item)] }
        return result
    }

    /// Top `k` items for `prefix`, best first (ties by smaller id).
    public func recommend(_ prefix: ArraySlice<Int32>, k: Int) -> [(item: Int32, score: Float)] {
        scores(for: prefix).sorted { ItemScores.ranksBefore($0.key, $0.value, $1.key, $1.value) }
            .prefix(k).map { ($0.key, $0.value) }
    }

    /// Full-ranking evaluation, prefixes split across `threads`: the target's rank is its place in
    /// `recommend`'s order (items scored above it, and tied items with a smaller id, so ties never
    /// flatter a model); a target without a score is a miss.
    public func evaluate(on examples: PrefixSet, cutoffs: [Int] = [10, 20], threads: Int = 1) -> EvaluationResult {
        let parts = max(1, min(threads, examples.count))
        var partial = [EvaluationResult](repeating: EvaluationResult(cutoffs: cutoffs), count: parts)
        partial.withUnsafeMutableBufferPointer { buffer in
            let box = UncheckedBox(buffer.baseAddress!)
            Parallel.forEachRange(count: parts, threads: parts) { range in
                for part in range {
                    let lower = examples.count * part / parts
                    let upper = examples.count * (part + 1) / parts
                    var scores = ItemScores(itemCount: itemCount)
                    var workspace = makeWorkspace()
                    var result = EvaluationResult(cutoffs: cutoffs)
                    for index in lower..<upper {
                        scores.removeAll()
                        score(examples.prefix(index), into: &scores, workspace: &workspace)
                        result.record(rank: scores.rank(of: examples.target(index)) ?? Int.max)
                    }
                    box.value[part] = result
                }
            }
        }
        var result = EvaluationResult(cutoffs: cutoffs)
        for part in partial { result.merge(part) }
        return result
    }
}

extension EvaluationResult {
    /// Adds the examples of `other` (same cutoffs): the metrics do not depend on how they were split.
    mutating func merge(_ other: EvaluationResult) {
        precondition(other.cutoffs == cutoffs, "merging results with different cutoffs")
        count += other.count
        for rank in rankCounts.indices { rankCounts[rank] += other.rankCounts[rank] }
    }
}

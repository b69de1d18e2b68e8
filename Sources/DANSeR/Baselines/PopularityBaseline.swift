/// The simplest yardstick: recommend the items clicked most in training, the same list for every
/// session. A model that does not beat it has learned nothing about sessions.
public struct PopularityBaseline: Sendable {
    /// Training clicks per item, indexed by dense id (0 unused).
    public let clickCounts: [Int]
    /// Item ids by descending clicks (ties by smaller id), for top-K.
    public let ranking: [Int32]

    public init(training: [Session], itemCount: Int) {
        var counts = [Int](repeating: 0, count: itemCount + 1)
        for session in training {
            for item in session where item > 0 && Int(item) <= itemCount { counts[Int(item)] += 1 }
        }
        clickCounts = counts
        ranking = (1...max(1, itemCount)).map(Int32.init).sorted { counts[Int($0)] != counts[Int($1)] ? counts[Int($0)] > counts[Int($1)] : $0 < $1 }
    }

    /// Full-ranking evaluation; an item never clicked in training is ranked last (a miss).
    public func evaluate(on examples: PrefixSet, cutoffs: [Int] = [10, 20]) -> EvaluationResult {
        var position = [Int](repeating: Int.max, count: clickCounts.count)
        for (rank, item) in ranking.enumerated() where clickCounts[Int(item)] > 0 { position[Int(item)] = rank }
        var result = EvaluationResult(cutoffs: cutoffs)
        for index in 0..<examples.count {
            let target = Int(examples.target(index))
            result.record(rank: target < position.count ? position[target] : Int.max)
        }
        return result
    }
}

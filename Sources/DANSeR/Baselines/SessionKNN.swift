internal import Foundation

/// Session-based k-nearest-neighbours (SKNN, Jannach and Ludewig 2017): a strong, simple
/// baseline. For a session prefix it samples the most recent training sessions that share an
/// item with it, keeps the `neighbours` most similar by cosine over item sets, and scores each
/// item by the summed similarity of the neighbours that contain it. Items no neighbour contains
/// get no score and are never recommended.
public struct SessionKNN: Sendable {
    /// How many most-similar sessions vote (default 100).
    public let neighbours: Int
    /// How many most recent sessions per prefix are compared at all (default 500).
    public let sampleSize: Int
    public let itemCount: Int
    /// Distinct items of each training session, sorted, in training (time) order.
    private let sessionItems: [[Int32]]
    /// For each item, the training sessions containing it, most recent last.
    private let sessionsOfItem: [[Int32]]

    public init(training: [Session], itemCount: Int, neighbours: Int = 100, sampleSize: Int = 500) {
        self.neighbours = neighbours
        self.sampleSize = sampleSize
        self.itemCount = itemCount
        sessionItems = training.map { Array(Set($0)).sorted() }
        var index = [[Int32]](repeating: [], count: itemCount + 1)
        for (session, items) in sessionItems.enumerated() {
            for item in items where item > 0 && Int(item) <= itemCount { index[Int(item)].append(Int32(session)) }
        }
        sessionsOfItem = index
    }

    /// Scores of the items the neighbours of `prefix` contain, as (item, score).
    public func scores(for prefix: ArraySlice<Int32>) -> [Int32: Float] {
        let items = Array(Set(prefix.filter { $0 > 0 && Int($0) <= itemCount })).sorted()
        guard !items.isEmpty else { return [:] }
        // The `sampleSize` most recent sessions sharing any item (higher index = more recent).
        var candidates = Set<Int32>()
        for item in items { candidates.formUnion(sessionsOfItem[Int(item)].suffix(sampleSize)) }
        let recent = candidates.sorted(by: >).prefix(sampleSize)
        var similarities: [(session: Int32, similarity: Float)] = recent.map { session in
            let other = sessionItems[Int(session)]
            let overlap = Self.overlap(items, other)
            return (session, Float(overlap) / (Float(items.count) * Float(other.count)).squareRoot())
        }
        similarities.sort { $0.similarity != $1.similarity ? $0.similarity > $1.similarity : $0.session > $1.session }
        var scores: [Int32: Float] = [:]
        for (session, similarity) in similarities.prefix(neighbours) where similarity > 0 {
            for item in sessionItems[Int(session)] { scores[item, default: 0] += similarity }
        }
        return scores
    }

    /// Top `k` items for `prefix`, best first (ties by smaller id).
    public func recommend(_ prefix: ArraySlice<Int32>, k: Int) -> [(item: Int32, score: Float)] {
        scores(for: prefix).sorted(by: Self.ranksBefore).prefix(k).map { ($0.key, $0.value) }
    }

    /// The one order of recommendations: higher score first, ties by smaller item id.
    private static func ranksBefore(_ a: (key: Int32, value: Float), _ b: (key: Int32, value: Float)) -> Bool {
        a.value != b.value ? a.value > b.value : a.key < b.key
    }

    /// Full-ranking evaluation: the target's rank is its place in `recommend`'s order (items
    /// scored above it, and items tied with it that have a smaller id: votes tie often, and
    /// counting ties in the target's favour would flatter the baseline); an unscored target is a miss.
    public func evaluate(on examples: PrefixSet, cutoffs: [Int] = [10, 20]) -> EvaluationResult {
        var result = EvaluationResult(cutoffs: cutoffs)
        for index in 0..<examples.count {
            let scores = scores(for: examples.prefix(index))
            let targetItem = examples.target(index)
            guard let target = scores[targetItem] else {
                result.record(rank: Int.max)
                continue
            }
            result.record(rank: scores.reduce(0) { $0 + (Self.ranksBefore($1, (targetItem, target)) ? 1 : 0) })
        }
        return result
    }

    /// Size of the intersection of two sorted id lists.
    private static func overlap(_ a: [Int32], _ b: [Int32]) -> Int {
        var i = 0, j = 0, count = 0
        while i < a.count && j < b.count {
            if a[i] == b[j] { count += 1; i += 1; j += 1 } else if a[i] < b[j] { i += 1 } else { j += 1 }
        }
        return count
    }
}

import DANSeR

/// Recommendations for a session the model knows none of the items of (all new, or unseen by
/// an older champion): the most clicked known items, so every active session gets a full list.
struct PopularityFallback {
    /// Clicks per dense item id in the ingested history (index 0 unused).
    let clicks: [Int64]
    private let ranking: [Int32]
    let k: Int

    /// Counts the clicks read per item; `denseID` maps interned item numbers to dense ids 1...itemCount (0: unknown).
    init(ingested: IngestedClicks, denseID: [Int32], itemCount: Int, k: Int) {
        var clicks = [Int64](repeating: 0, count: itemCount + 1)
        for item in ingested.clickItem {
            let id = Int(denseID[Int(item)])
            if id > 0, id < clicks.count { clicks[id] += 1 }
        }
        self.clicks = clicks
        self.k = k
        ranking = (1..<max(1, clicks.count)).map(Int32.init).sorted { clicks[Int($0)] != clicks[Int($1)] ? clicks[Int($0)] > clicks[Int($1)] : $0 < $1 }
    }

    /// Scores are the items' click counts, so they fall with rank like model scores do.
    func recommend(excluding seen: Set<Int32>) -> [Recommendation] {
        ranking.lazy.filter { !seen.contains($0) }.prefix(k).map { Recommendation(item: $0, score: Float(clicks[Int($0)])) }
    }
}

/// Watches published recommendations for the report: a sample of scores, catalogue coverage,
/// and how the rows spread over the catalogue's popularity deciles.
struct RecommendationObserver {
    let itemCount: Int
    private var recommended: Set<Int32> = []
    private var decileOfItem: [Int] = []
    private var decileRows = [Int](repeating: 0, count: 10)
    private var rows = 0
    private(set) var sampledScores: [Double] = []
    private(set) var fallbackSessions = 0
    private var seen = 0

    init(itemCount: Int, popularity: [Int64]) {
        self.itemCount = itemCount
        let order = (1..<max(1, min(popularity.count, itemCount + 1))).sorted { popularity[$0] > popularity[$1] }
        decileOfItem = [Int](repeating: 9, count: itemCount + 1)
        for (rank, item) in order.enumerated() { decileOfItem[item] = min(9, rank * 10 / max(1, order.count)) }
    }

    mutating func observe(_ list: [Recommendation], fallback: Bool = false) {
        if fallback { fallbackSessions += 1 }
        for recommendation in list {
            recommended.insert(recommendation.item)
            if Int(recommendation.item) < decileOfItem.count { decileRows[decileOfItem[Int(recommendation.item)]] += 1 }
            rows += 1
            // Fallback scores are click counts, not model scores: they stay out of the sample.
            if fallback { continue }
            // Keep every n-th score so the sample stays small but spans the whole night.
            seen += 1
            if sampledScores.count < 5_000 || seen % 50 == 0 {
                if sampledScores.count >= 20_000 { continue }
                sampledScores.append(Double(recommendation.score))
            }
        }
    }

    var coverage: Double { itemCount == 0 ? 0 : Double(recommended.count) / Double(itemCount) }
    var popularityDeciles: [Double] { rows == 0 ? [] : decileRows.map { Double($0) / Double(rows) } }
}

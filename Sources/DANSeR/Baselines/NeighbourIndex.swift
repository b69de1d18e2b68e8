internal import Foundation

/// Training sessions indexed for the nearest-neighbour contenders (V-SKNN, STAN): each session's
/// clicks and distinct items, the sessions of each item in time order, and each item's IDF.
struct NeighbourIndex: Sendable {
    let itemCount: Int
    /// Training sessions, in time order (a higher index is a more recent session).
    let clicks: [Session]
    /// Distinct items of each session, sorted.
    let distinctItems: [[Int32]]
    /// For each item, the sessions containing it, most recent last.
    let sessionsOfItem: [[Int32]]
    /// log(sessions / sessions containing the item), 0 for an item in no session.
    let inverseDocumentFrequency: [Float]

    init(training: [Session], itemCount: Int) {
        self.itemCount = itemCount
        clicks = training.map { $0.filter { $0 > 0 && Int($0) <= itemCount } }
        distinctItems = clicks.map { Array(Set($0)).sorted() }
        var index = [[Int32]](repeating: [], count: itemCount + 1)
        for (session, items) in distinctItems.enumerated() {
            for item in items { index[Int(item)].append(Int32(session)) }
        }
        sessionsOfItem = index
        let sessions = Double(max(1, training.count))
        inverseDocumentFrequency = index.map { $0.isEmpty ? 0 : Float(log(sessions / Double($0.count))) }
    }

    /// Recency sampling: the `limit` most recent sessions that contain any of `items` (all of
    /// them when `limit` is 0), most recent first. A merge from the recent ends of the item lists.
    func recentSessions(containing items: [Int32], limit: Int, into result: inout [Int32], heads: inout [Int]) {
        result.removeAll(keepingCapacity: true)
        heads.removeAll(keepingCapacity: true)
        for item in items { heads.append(sessionsOfItem[Int(item)].count) }
        let cap = limit > 0 ? limit : Int.max
        while result.count < cap {
            var best: Int32 = -1
            for (position, item) in items.enumerated() where heads[position] > 0 {
                best = max(best, sessionsOfItem[Int(item)][heads[position] - 1])
            }
            if best < 0 { break }
            result.append(best)
            for (position, item) in items.enumerated()
            where heads[position] > 0 && sessionsOfItem[Int(item)][heads[position] - 1] == best {
                heads[position] -= 1
            }
        }
    }

    /// The prefix loaded in `workspace` (marked by `generation`): samples its candidates, scores each
    /// by `similarity(session, overlap)` (overlap: the summed prefix weights of the items the session
    /// shares with it) and leaves the `k` nearest in `workspace.similarities`.
    func findNeighbours(
        _ workspace: inout NeighbourWorkspace, generation: UInt32, sampleSize: Int, k: Int,
        similarity: (Int32, Float) -> Float
    ) {
        recentSessions(containing: workspace.distinct, limit: sampleSize, into: &workspace.candidates, heads: &workspace.heads)
        workspace.similarities.removeAll(keepingCapacity: true)
        for session in workspace.candidates {
            var overlap: Float = 0
            for item in distinctItems[Int(session)] where workspace.sessionStamp[Int(item)] == generation {
                overlap += workspace.weight[Int(item)]
            }
            workspace.similarities.append((session, similarity(session, overlap)))
        }
        Self.nearest(&workspace.similarities, k: k)
    }

    /// Keeps the `k` most similar (similarity > 0) of `candidates`, most similar first; ties go to
    /// the more recent session.
    static func nearest(_ candidates: inout [(session: Int32, similarity: Float)], k: Int) {
        candidates.removeAll { !($0.similarity > 0) }
        candidates.sort { $0.similarity != $1.similarity ? $0.similarity > $1.similarity : $0.session > $1.session }
        if candidates.count > k { candidates.removeLast(candidates.count - k) }
    }
}

/// Per-thread scratch of the neighbour models: slots per item, stamped by a generation counter
/// so they never need clearing. `weight`/`position` describe the current prefix (valid where
/// `sessionStamp` is this generation); `best` is a neighbour's per-item value (where `neighbourStamp` is).
struct NeighbourWorkspace {
    var weight: [Float]
    var position: [Int32]
    var sessionStamp: [UInt32]
    var best: [Float]
    var neighbourStamp: [UInt32]
    private var generation: UInt32 = 0
    private var neighbourGeneration: UInt32 = 0
    var distinct: [Int32] = []
    var candidates: [Int32] = []
    var heads: [Int] = []
    var similarities: [(session: Int32, similarity: Float)] = []
    var touched: [Int32] = []

    init(itemCount: Int) {
        weight = [Float](repeating: 0, count: itemCount + 1)
        position = [Int32](repeating: 0, count: itemCount + 1)
        sessionStamp = [UInt32](repeating: 0, count: itemCount + 1)
        best = [Float](repeating: 0, count: itemCount + 1)
        neighbourStamp = [UInt32](repeating: 0, count: itemCount + 1)
    }

    /// A fresh generation: every stamp from before now reads as unset.
    mutating func nextGeneration() -> UInt32 {
        generation &+= 1
        if generation == 0 {
            for index in sessionStamp.indices { sessionStamp[index] = 0 }
            generation = 1
        }
        return generation
    }

    /// A fresh generation for the per-neighbour slots (`best`, `neighbourStamp`).
    mutating func nextNeighbour() -> UInt32 {
        neighbourGeneration &+= 1
        if neighbourGeneration == 0 {
            for index in neighbourStamp.indices { neighbourStamp[index] = 0 }
            neighbourGeneration = 1
        }
        return neighbourGeneration
    }

    /// Records the prefix's valid items: `weight(position, length)` of each item's last click
    /// (0-based position among the valid clicks), its last position, and the distinct items.
    /// Returns the generation that marks them and the number of valid clicks.
    mutating func load(
        _ prefix: ArraySlice<Int32>, itemCount: Int, weight weightOf: (Int, Int) -> Float
    ) -> (generation: UInt32, length: Int) {
        let generation = nextGeneration()
        distinct.removeAll(keepingCapacity: true)
        var length = 0
        for item in prefix where item > 0 && Int(item) <= itemCount { length += 1 }
        var p = 0
        for item in prefix where item > 0 && Int(item) <= itemCount {
            let index = Int(item)
            if sessionStamp[index] != generation {
                sessionStamp[index] = generation
                distinct.append(item)
            }
            weight[index] = weightOf(p, length)
            position[index] = Int32(p)
            p += 1
        }
        return (generation, length)
    }
}

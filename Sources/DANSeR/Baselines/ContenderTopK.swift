extension SessionScorer {
    /// Top `k` of every session, best first (ties by smaller id), the sessions split across
    /// `threads`: the same scores and order `evaluate` ranks with. Clicks on unknown items (0 or
    /// above `itemCount`) are left out; a session the model gives no score gets an empty list, and
    /// one it scores fewer than `k` items for gets a shorter one. With `excludeSeen`, items of the
    /// session are never recommended.
    public func topK(_ sessions: [Session], k: Int, excludeSeen: Bool = false, threads: Int = 1) -> [[Recommendation]] {
        var results = [[Recommendation]](repeating: [], count: sessions.count)
        guard !sessions.isEmpty, k > 0 else { return results }
        let parts = max(1, min(threads, sessions.count))
        results.withUnsafeMutableBufferPointer { buffer in
            let box = UncheckedBox(buffer.baseAddress!)
            Parallel.forEachRange(count: parts, threads: parts) { range in
                for part in range {
                    var scores = ItemScores(itemCount: itemCount)
                    var workspace = makeWorkspace()
                    var seen = Set<Int32>()
                    for index in (sessions.count * part / parts)..<(sessions.count * (part + 1) / parts) {
                        let known = sessions[index].filter { $0 > 0 && Int($0) <= itemCount }
                        guard !known.isEmpty else { continue }
                        scores.removeAll()
                        score(known[...], into: &scores, workspace: &workspace)
                        seen.removeAll(keepingCapacity: true)
                        if excludeSeen { seen.formUnion(known) }
                        box.value[index] = scores.best(k, excluding: seen)
                    }
                }
            }
        }
        return results
    }
}

extension ItemScores {
    /// The `k` best scored items not in `excluded`, in recommendation order.
    func best(_ k: Int, excluding excluded: Set<Int32> = []) -> [Recommendation] {
        var top: [Recommendation] = []
        top.reserveCapacity(k + 1)
        for item in items where excluded.isEmpty || !excluded.contains(item) {
            let score = values[Int(item)]
            if top.count == k, let last = top.last, !Self.ranksBefore(item, score, last.item, last.score) { continue }
            var position = top.count
            while position > 0 && Self.ranksBefore(item, score, top[position - 1].item, top[position - 1].score) { position -= 1 }
            top.insert(Recommendation(item: item, score: score), at: position)
            if top.count > k { top.removeLast() }
        }
        return top
    }
}

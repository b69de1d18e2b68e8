extension SessionBatch {
    /// An empty batch of `count` sessions, filled in by `sessions(_:)`.
    private init(emptyOf count: Int) {
        self.count = count
        nodeStart = []
        positionStart = []
        inStart = []
        outStart = []
    }

    /// Sessions `range` of this batch as a batch of their own, indices renumbered from 0.
    /// Sessions never share a node or an edge, so a part's graph is exactly theirs.
    func sessions(_ range: Range<Int>) -> SessionBatch {
        var part = SessionBatch(emptyOf: range.count)
        let firstNode = Int(nodeStart[range.lowerBound])
        let endNode = Int(nodeStart[range.upperBound])
        let firstPosition = Int(positionStart[range.lowerBound])
        let endPosition = Int(positionStart[range.upperBound])
        let nodeBase = Int32(firstNode)
        part.nodeItems = Array(nodeItems[firstNode..<endNode])
        part.nodeStart = nodeStart[range.lowerBound...range.upperBound].map { $0 - nodeBase }
        part.positionNode = positionNode[firstPosition..<endPosition].map { $0 - nodeBase }
        part.positionStart = positionStart[range.lowerBound...range.upperBound].map { $0 - Int32(firstPosition) }
        part.positionSession = positionSession[firstPosition..<endPosition].map { $0 - Int32(range.lowerBound) }
        let firstIn = Int(inStart[firstNode])
        let endIn = Int(inStart[endNode])
        part.inStart = inStart[firstNode...endNode].map { $0 - Int32(firstIn) }
        part.inSource = inSource[firstIn..<endIn].map { $0 - nodeBase }
        part.inWeight = Array(inWeight[firstIn..<endIn])
        let firstOut = Int(outStart[firstNode])
        let endOut = Int(outStart[endNode])
        part.outStart = outStart[firstNode...endNode].map { $0 - Int32(firstOut) }
        part.outTarget = outTarget[firstOut..<endOut].map { $0 - nodeBase }
        part.outWeight = Array(outWeight[firstOut..<endOut])
        if !targets.isEmpty { part.targets = Array(targets[range]) }
        return part
    }

    /// At most `parts` batches of consecutive sessions with about equal node counts (the GNN's
    /// cost follows nodes), in order; one part when the batch is too small to split.
    func split(into parts: Int) -> [Range<Int>] {
        let parts = max(1, min(parts, count))
        guard parts > 1 else { return [0..<count] }
        var ranges: [Range<Int>] = []
        var lower = 0
        for part in 1..<parts {
            let goal = Int32(nodeCount * part / parts)
            var upper = lower + 1
            while upper < count - (parts - part), nodeStart[upper] < goal { upper += 1 }
            ranges.append(lower..<upper)
            lower = upper
        }
        ranges.append(lower..<count)
        return ranges
    }
}

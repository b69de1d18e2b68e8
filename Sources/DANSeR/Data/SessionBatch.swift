/// A batch of prefixes as one block-diagonal session graph (MODEL.md section 1).
/// Nodes of all sessions are stacked, so the per-node linear maps are single products;
/// sessions never share a node or an edge, so no information crosses sessions.
struct SessionBatch: Sendable {
    /// Sessions in the batch (B).
    let count: Int
    /// Item id of each stacked node.
    var nodeItems: [Int32] = []
    /// Nodes of session b are nodeStart[b]..<nodeStart[b+1].
    var nodeStart: [Int32] = [0]
    /// Stacked node of each click position (the alias), positions of session b are
    /// positionStart[b]..<positionStart[b+1]; the last one is the last click.
    var positionNode: [Int32] = []
    var positionStart: [Int32] = [0]
    /// Session of each position.
    var positionSession: [Int32] = []
    /// Incoming edges of node i (M_in row i): inStart[i]..<inStart[i+1] into inSource/inWeight.
    var inStart: [Int32] = [0]
    var inSource: [Int32] = []
    var inWeight: [Float] = []
    /// Outgoing edges of node i (M_out row i).
    var outStart: [Int32] = [0]
    var outTarget: [Int32] = []
    var outWeight: [Float] = []
    /// The next item of each session (0 when unknown, e.g. at inference).
    var targets: [Int32] = []

    var nodeCount: Int { nodeItems.count }
    var positionCount: Int { positionNode.count }

    /// Position of the last click of session b.
    @inline(__always) func lastPosition(_ b: Int) -> Int { Int(positionStart[b + 1]) - 1 }

    init(prefixes: some Collection<ArraySlice<Int32>>, targets: [Int32]) {
        count = prefixes.count
        self.targets = targets
        var localNodes: [Int32] = []
        var edges: [UInt64] = []
        for clicks in prefixes {
            precondition(!clicks.isEmpty, "a prefix has at least one click")
            let base = Int32(nodeItems.count)
            localNodes.removeAll(keepingCapacity: true)
            edges.removeAll(keepingCapacity: true)
            var previous: Int32 = -1
            for item in clicks {
                // Sessions are short: a linear search beats hashing here.
                var local = localNodes.firstIndex(of: item).map(Int32.init) ?? -1
                if local < 0 {
                    local = Int32(localNodes.count)
                    localNodes.append(item)
                }
                positionNode.append(base + local)
                positionSession.append(Int32(nodeStart.count - 1))
                if previous >= 0 { edges.append(UInt64(UInt32(previous)) << 32 | UInt64(UInt32(local))) }
                previous = local
            }
            positionStart.append(Int32(positionNode.count))
            nodeItems.append(contentsOf: localNodes)
            nodeStart.append(Int32(nodeItems.count))
            // Binary edges: a repeated transition counts once.
            edges.sort()
            var unique: [(from: Int32, to: Int32)] = []
            var last: UInt64? = nil
            for edge in edges where edge != last {
                unique.append((Int32(edge >> 32), Int32(truncatingIfNeeded: edge & 0xFFFF_FFFF)))
                last = edge
            }
            let n = localNodes.count
            var inDegree = [Int32](repeating: 0, count: n)
            var outDegree = [Int32](repeating: 0, count: n)
            for edge in unique {
                outDegree[Int(edge.from)] += 1
                inDegree[Int(edge.to)] += 1
            }
            for node in 0..<n {
                let inScale = 1 / Float(max(1, inDegree[node]))
                let outScale = 1 / Float(max(1, outDegree[node]))
                for edge in unique {
                    if edge.to == node {
                        inSource.append(base + edge.from)
                        inWeight.append(inScale)
                    }
                    if edge.from == node {
                        outTarget.append(base + edge.to)
                        outWeight.append(outScale)
                    }
                }
                inStart.append(Int32(inSource.count))
                outStart.append(Int32(outTarget.count))
            }
        }
    }

    /// The batch of examples `indices` of `set`, each cut to its most recent `maxLength` clicks.
    init(_ set: PrefixSet, indices: some Collection<Int>, maxLength: Int = .max) {
        self.init(
            prefixes: indices.map { i in
                let clicks = set.prefix(i)
                return clicks.count > maxLength ? clicks.suffix(maxLength) : clicks
            },
            targets: indices.map { set.target($0) })
    }
}

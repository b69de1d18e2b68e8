internal import Foundation

/// STAN (Garg et al., "Sequence and Time Aware Neighborhood for Session-based Recommendations",
/// 2019), with VSTAN's recency sampling and IDF (Ludewig et al. 2021) as options. For a prefix s of
/// length l, and a training session n that ended at time t(n):
/// - w1(i) = exp(-(l - p(i)) / lambda1), p(i) the (1-based) position of i's last click in s;
/// - sim(s, n) = [sum over i in s ∩ n of w1(i)] / sqrt(|s| · |n|) (distinct items) ·
///   exp(-(T - t(n)) / lambda2), T the end of the training period (a prefix has no time of its own;
///   a shared T scales every neighbour of a prefix alike, so only lambda2 matters, not T);
/// - neighbours: the `neighbours` of highest sim among the candidates (the `sampleSize` most
///   recent sessions sharing an item, or all of them when `sampleSize` is 0, as in STAN);
/// - score(i) = sum over neighbours n containing i of sim(s, n) · w3(i | n) · (1 + idfWeight · idf(i)),
///   w3(i | n) = exp(-|q(i, n) - q(r, n)| / lambda3), where r is the most recent item of s that n
///   contains, q(x, n) a click position in n (r's last click; of i's clicks, the one closest to it).
public struct STAN: SessionScorer {
    public struct Parameters: Sendable, Hashable, CustomStringConvertible {
        /// Neighbours that vote (default 100).
        public var neighbours = 100
        /// Most recent candidate sessions compared per prefix (default 1000; 0 compares all, as STAN).
        public var sampleSize = 1000
        /// Position decay of the current session, in clicks (default 2).
        public var lambda1: Float = 2
        /// Recency decay of neighbour sessions, in days (default 30).
        public var lambda2Days: Float = 30
        /// Decay of a neighbour's items with their distance from the shared item, in clicks (default 2).
        public var lambda3: Float = 2
        /// Weight of IDF in the item score (default 0, plain STAN).
        public var idfWeight: Float = 0

        public init(
            neighbours: Int = 100, sampleSize: Int = 1000, lambda1: Float = 2, lambda2Days: Float = 30,
            lambda3: Float = 2, idfWeight: Float = 0
        ) {
            self.neighbours = neighbours
            self.sampleSize = sampleSize
            self.lambda1 = lambda1
            self.lambda2Days = lambda2Days
            self.lambda3 = lambda3
            self.idfWeight = idfWeight
        }

        public var description: String {
            "k=\(neighbours) sample=\(sampleSize) lambda1=\(lambda1) lambda2=\(lambda2Days)d lambda3=\(lambda3) idf=\(idfWeight)"
        }
    }

    public let parameters: Parameters
    private let index: NeighbourIndex
    /// exp(-(T - t(n)) / lambda2) of each training session.
    private let recency: [Float]
    /// w3 by distance in clicks, exp(-d / lambda3), for every distance a session can have.
    private let distanceWeights: [Float]
    public var itemCount: Int { index.itemCount }

    /// `endTimes` (microseconds) are the training sessions' last-click times, parallel to `training`.
    public init(training: [Session], endTimes: [Int64], itemCount: Int, parameters: Parameters = .init()) {
        precondition(training.count == endTimes.count, "one end time per training session")
        self.parameters = parameters
        index = NeighbourIndex(training: training, itemCount: itemCount)
        let end = endTimes.max() ?? 0
        let scale = Double(parameters.lambda2Days) * 86_400_000_000
        recency = endTimes.map { Float(exp(-Double(end - $0) / scale)) }
        let longest = training.map(\.count).max() ?? 0
        distanceWeights = (0...longest).map { Float(exp(-Double($0) / Double(parameters.lambda3))) }
    }

    public func makeWorkspace() -> NeighbourWorkspaceBox { NeighbourWorkspaceBox(itemCount: itemCount) }

    public func score(_ prefix: ArraySlice<Int32>, into scores: inout ItemScores, workspace box: inout NeighbourWorkspaceBox) {
        let lambda1 = parameters.lambda1
        let (generation, length) = box.workspace.load(prefix, itemCount: itemCount) { p, l in
            Float(exp(-Double(l - (p + 1)) / Double(lambda1)))
        }
        guard length > 0 else { return }
        let distinctCount = Float(box.workspace.distinct.count)
        index.findNeighbours(
            &box.workspace, generation: generation, sampleSize: parameters.sampleSize, k: parameters.neighbours
        ) { session, overlap in
            overlap / (distinctCount * Float(index.distinctItems[Int(session)].count)).squareRoot() * recency[Int(session)]
        }
        for (session, similarity) in box.workspace.similarities {
            let clicks = index.clicks[Int(session)]
            // r: the shared item clicked last in the prefix; its last click in n.
            var latest: Int32 = -1
            var shared: Int32 = 0
            for item in index.distinctItems[Int(session)] where box.workspace.sessionStamp[Int(item)] == generation {
                if box.workspace.position[Int(item)] > latest {
                    latest = box.workspace.position[Int(item)]
                    shared = item
                }
            }
            let anchor = clicks.lastIndex(of: shared) ?? 0
            let stamp = box.workspace.nextNeighbour()
            box.workspace.touched.removeAll(keepingCapacity: true)
            for (q, item) in clicks.enumerated() {
                let weight = distanceWeights[abs(q - anchor)]
                let slot = Int(item)
                if box.workspace.neighbourStamp[slot] != stamp {
                    box.workspace.neighbourStamp[slot] = stamp
                    box.workspace.best[slot] = weight
                    box.workspace.touched.append(item)
                } else if weight > box.workspace.best[slot] {
                    box.workspace.best[slot] = weight
                }
            }
            for item in box.workspace.touched {
                scores.add(
                    item,
                    similarity * box.workspace.best[Int(item)]
                        * (1 + parameters.idfWeight * index.inverseDocumentFrequency[Int(item)]))
            }
        }
    }
}

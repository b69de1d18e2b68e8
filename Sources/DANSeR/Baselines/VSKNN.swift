/// V-SKNN (Ludewig and Jannach, "Evaluation of session-based recommendation algorithms", 2018),
/// session kNN that weights the current session by position. For a prefix s of length l whose
/// item at (1-based) position p has weight w(i) = p / l (an item's last click counts):
/// - candidates: the `sampleSize` most recent training sessions sharing an item with s;
/// - sim(s, n) = sum over i in s ∩ n of w(i), divided by the number of distinct items of s;
/// - neighbours: the `neighbours` candidates of highest sim;
/// - score(i) = sum over neighbours n containing i of sim(s, n) · d(s, n) · (1 + idfWeight · idf(i)),
///   where idf(i) = log(training sessions / sessions containing i) and d(s, n) = 1 / (steps from
///   the end of s to its most recent item that n contains, 1 for the last item), or 1 when
///   `decaysScores` is off (as the reference implementation's `div_score`).
public struct VSKNN: SessionScorer {
    public struct Parameters: Sendable, Hashable, CustomStringConvertible {
        /// Neighbours that vote (default 100).
        public var neighbours = 100
        /// Most recent candidate sessions compared per prefix (default 500; 0 compares all).
        public var sampleSize = 500
        /// Weight of IDF in the item score (default 1; 0 switches IDF off).
        public var idfWeight: Float = 1
        /// Whether a neighbour's vote decays with the position of the item it shares (default on).
        public var decaysScores = true

        public init(neighbours: Int = 100, sampleSize: Int = 500, idfWeight: Float = 1, decaysScores: Bool = true) {
            self.neighbours = neighbours
            self.sampleSize = sampleSize
            self.idfWeight = idfWeight
            self.decaysScores = decaysScores
        }

        public var description: String {
            "k=\(neighbours) sample=\(sampleSize) idf=\(idfWeight)\(decaysScores ? "" : " no-score-decay")"
        }
    }

    public let parameters: Parameters
    private let index: NeighbourIndex
    public var itemCount: Int { index.itemCount }

    public init(training: [Session], itemCount: Int, parameters: Parameters = .init()) {
        self.parameters = parameters
        index = NeighbourIndex(training: training, itemCount: itemCount)
    }

    public func makeWorkspace() -> NeighbourWorkspaceBox { NeighbourWorkspaceBox(itemCount: itemCount) }

    public func score(_ prefix: ArraySlice<Int32>, into scores: inout ItemScores, workspace box: inout NeighbourWorkspaceBox) {
        let (generation, length) = box.workspace.load(prefix, itemCount: itemCount) { p, l in Float(p + 1) / Float(l) }
        guard length > 0 else { return }
        let distinctCount = Float(box.workspace.distinct.count)
        index.findNeighbours(
            &box.workspace, generation: generation, sampleSize: parameters.sampleSize, k: parameters.neighbours
        ) { _, overlap in overlap / distinctCount }
        for (session, similarity) in box.workspace.similarities {
            let items = index.distinctItems[Int(session)]
            var decay: Float = 1
            if parameters.decaysScores {
                var last: Int32 = -1
                for item in items where box.workspace.sessionStamp[Int(item)] == generation {
                    last = max(last, box.workspace.position[Int(item)])
                }
                decay = 1 / Float(length - Int(last))
            }
            let vote = similarity * decay
            for item in items {
                scores.add(item, vote * (1 + parameters.idfWeight * index.inverseDocumentFrequency[Int(item)]))
            }
        }
    }
}

/// The scratch space of the neighbour contenders, opaque to callers.
public struct NeighbourWorkspaceBox {
    var workspace: NeighbourWorkspace
    init(itemCount: Int) { workspace = NeighbourWorkspace(itemCount: itemCount) }
}

internal import Dispatch

/// Approximate against exact top-K in one run: recall@K of the inverted-file search and its
/// speed-up over scoring every item, for catalogues too large to score exactly every night.
public enum RetrievalBenchmark {
    public struct Row: Sendable {
        public var items: Int
        public var lists: Int
        public var probes: Int
        public var buildSeconds: Double
        public var exactSessionsPerSecond: Double
        public var approximateSessionsPerSecond: Double
        /// Share of the exact top-K that the approximate top-K holds.
        public var recall: Double
    }

    /// A DANSeR model of `items` items with random network weights and clustered item embeddings
    /// (about sqrt(N) topics, popular items with larger norms), the structure trained embeddings
    /// have and random ones lack. Behaviour statistics come from `sessions`.
    public static func syntheticModel(items: Int, sessions: [Session], hidden: Int = 100, seed: UInt64 = 1) throws(DANSeRError) -> Model {
        var configuration = ModelConfiguration.danser
        configuration.hiddenSize = hidden
        var model = try Model(configuration: configuration, itemCount: items, seed: seed)
        var random = RandomSource(seed: seed, stream: 21, epoch: 0)
        let topics = topicCount(items)
        let bound = 1 / Float(hidden).squareRoot()
        let centres = (0..<(topics * hidden)).map { _ in random.uniform(-bound, bound) }
        let table = model.network.head.scorer.table
        for item in 1...items {
            let topic = topic(of: item, topics: topics)
            let row = table.offset + item * hidden
            for col in 0..<hidden { model.parameters[row + col] = centres[topic * hidden + col] + 0.5 * random.uniform(-bound, bound) }
        }
        try model.setBehaviourStatistics(BehaviourStatistics(training: sessions, itemCount: items))
        return model
    }

    /// Sessions of 2-8 clicks within one topic each, items drawn with a popularity skew.
    public static func sessions(count: Int, items: Int, seed: UInt64 = 2) -> [Session] {
        var random = RandomSource(seed: seed, stream: 22, epoch: 0)
        let topics = topicCount(items)
        return (0..<count).map { _ in
            let topic = Int(random.next() % UInt64(topics))
            return (0..<(2 + Int(random.next() % 7))).map { _ in
                let u = Double(random.next() >> 11) * 0x1.0p-53
                // Items of a topic are topic + 1, topic + 1 + topics, ...: the skew favours the first.
                let rank = Int(Double((items - 1 - topic) / topics) * u * u)
                return Int32(1 + topic + rank * topics)
            }
        }
    }

    /// For each number of probes: the index's build time, exact and approximate sessions/s and recall@k.
    public static func run(model: Model, sessions: [Session], k: Int = 20, lists: Int? = nil, probes: [Int], threads: Int) throws(DANSeRError) -> [Row] {
        var recommender = Recommender(model: model)
        recommender.threads = threads
        let (exact, exactSeconds) = timed { collect(recommender, sessions, k: k) }
        let buildStart = DispatchTime.now()
        let index = try ApproximateTopK(model: model, lists: lists, probes: 1, threads: threads)
        let buildSeconds = Double(DispatchTime.now().uptimeNanoseconds - buildStart.uptimeNanoseconds) / 1e9
        return probes.map { count in
            var approximate = index
            approximate.probes = count
            recommender.approximate = approximate
            let (found, seconds) = timed { collect(recommender, sessions, k: k) }
            let hits = zip(found, exact).map { Set($0.map(\.item)).intersection($1.map(\.item)).count }.reduce(0, +)
            return Row(
                items: model.itemCount, lists: index.index.lists, probes: count, buildSeconds: buildSeconds,
                exactSessionsPerSecond: Double(sessions.count) / exactSeconds,
                approximateSessionsPerSecond: Double(sessions.count) / seconds,
                recall: Double(hits) / Double(max(1, exact.joined().count)))
        }
    }

    static func topicCount(_ items: Int) -> Int { max(1, Int(Double(items).squareRoot())) }

    static func topic(of item: Int, topics: Int) -> Int { (item - 1) % topics }

    private static func collect(_ recommender: Recommender, _ sessions: [Session], k: Int) -> [[Recommendation]] {
        var all: [[Recommendation]] = []
        all.reserveCapacity(sessions.count)
        recommender.topK(sessions, k: k) { _, results in all += results }
        return all
    }

    private static func timed<T>(_ body: () -> T) -> (T, Double) {
        let start = DispatchTime.now()
        let value = body()
        return (value, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
    }
}

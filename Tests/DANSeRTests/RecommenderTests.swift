import Testing

@testable import DANSeR

@Suite struct RecommenderTests {
    func model(items: Int = 60) throws -> Model {
        var configuration = ModelConfiguration.srgnn
        configuration.hiddenSize = 16
        return try Model(configuration: configuration, itemCount: items, seed: 3)
    }

    func sessions(count: Int, items: Int) -> [Session] {
        var state: UInt64 = 11
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let length = 2 + Int(state >> 61)
            return (0..<length).map { step in Int32(1 + Int((state >> UInt64(8 + step * 6)) % UInt64(items))) }
        }
    }

    @Test func agreesWithTheEvaluatorsRanking() throws {
        let model = try model()
        let examples = PrefixSet(sessions: sessions(count: 40, items: 60))
        let evaluation = Evaluator.evaluate(model, on: examples, cutoffs: [5])
        var recommender = Recommender(model: model)
        recommender.batchSize = 7
        let prefixes = (0..<examples.count).map { Session(examples.prefix($0)) }
        var hits = 0
        recommender.topK(prefixes, k: 5) { first, results in
            for (offset, list) in results.enumerated() where list.contains(where: { $0.item == examples.target(first + offset) }) {
                hits += 1
            }
        }
        #expect(Double(hits) / Double(examples.count) == evaluation.precision(at: 5))
    }

    @Test func resultsDoNotDependOnBatchSizeOrThreads() throws {
        let model = try model()
        let input = sessions(count: 33, items: 60)
        func run(batch: Int, threads: Int) -> [[Recommendation]] {
            var recommender = Recommender(model: model)
            recommender.batchSize = batch
            recommender.threads = threads
            var all: [[Recommendation]] = []
            recommender.topK(input, k: 10) { _, results in all += results }
            return all
        }
        let reference = run(batch: 100, threads: 1)
        #expect(reference.count == 33 && reference.allSatisfy { $0.count == 10 })
        // sgemm's blocking depends on the batch's row count, so scores may differ in the last bit.
        let other = run(batch: 4, threads: 2)
        let sameItems = other.map { $0.map(\.item) } == reference.map { $0.map(\.item) }
        let closeScores = zip(other.joined(), reference.joined()).allSatisfy { abs($0.score - $1.score) <= 1e-5 }
        #expect(sameItems && closeScores)
    }

    @Test func excludesSeenItemsAndUnknownClicks() throws {
        let model = try model(items: 8)
        var all: [[Recommendation]] = []
        Recommender(model: model).topK([[1, 2, 3], [0, 99], [5, 99]], k: 20, excludeSeen: true) { _, results in all += results }
        #expect(all[0].count == 5 && !all[0].contains { [1, 2, 3].contains($0.item) })
        #expect(all[1].isEmpty)  // no click the model knows
        #expect(all[2].count == 7)
        #expect(all[0].map(\.score) == all[0].map(\.score).sorted(by: >))
    }
}

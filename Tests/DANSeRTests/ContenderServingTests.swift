import Foundation
import Testing

@testable import DANSeR

/// What the night publishes when a contender or the blend serves: the same order the contest
/// measured them with.
@Suite struct ContenderServingTests {
    let training: [Session] = [[1, 2, 3], [4, 5], [1, 4, 6], [2, 3, 5], [6, 1, 2]]

    func model(items: Int) throws -> Model {
        var configuration = ModelConfiguration.srgnn
        configuration.hiddenSize = 16
        return try Model(configuration: configuration, itemCount: items, seed: 3)
    }

    @Test func contenderTopKIsItsRecommendationOrder() throws {
        let setting = ContenderSetting.vsknn(.init(neighbours: 10, sampleSize: 10, idfWeight: 0))
        let fitted = try setting.fit(training: training, endTimes: training.indices.map { Int64($0) }, itemCount: 6)
        let sessions: [Session] = [[1, 4], [2], [9, 0], [5, 3, 5]]
        for threads in [1, 2] {
            let top = fitted.topK(sessions, k: 3, threads: threads)
            #expect(top[0].map(\.item) == [4, 1, 6])
            #expect(top[0].map(\.item) == fitted.recommend([1, 4], k: 3).map(\.item))
            #expect(top[1].map(\.item) == fitted.recommend([2], k: 3).map(\.item))
            #expect(top[2].isEmpty, "a session of unknown items gets no list")
            #expect(top[3].map(\.item) == fitted.recommend([5, 3, 5], k: 3).map(\.item))
        }
        // Seen items are left out, and the list is only as long as what the model scored.
        let unseen = fitted.topK([[1, 4]], k: 10, excludeSeen: true)[0]
        #expect(Set(unseen.map(\.item)).isDisjoint(with: [1, 4]))
        #expect(unseen.count == 4)
    }

    @Test func blendAtItsEndsIsEachModelAlone() throws {
        let model = try model(items: 6)
        let fitted = try ContenderSetting.sr(.init(steps: 5, pruning: 0, window: 1))
            .fit(training: training, endTimes: training.indices.map { Int64($0) }, itemCount: 6)
        let examples = PrefixSet(sessions: training)
        let results = Blend.evaluate(model, fitted, on: examples, weights: [0, 1], cutoffs: [3])
        #expect(results[0] == Evaluator.evaluate(model, on: examples, cutoffs: [3]))
        // At weight 1 every item the rules score ranks by its rule score (the model only breaks
        // ties among the unscored items, which rank below), so hits within 3 match the rules'.
        let rules = fitted.evaluate(on: examples, cutoffs: [3])
        #expect(results[1].precision(at: 3) >= rules.precision(at: 3))
        // Top-K of the blend at weight 0 is the model's own top-K.
        let blend = Blend(model: model, contender: fitted, weight: 0)
        var recommender = Recommender(model: model)
        var expected: [[Recommendation]] = []
        recommender.batchSize = 2
        recommender.topK(training, k: 3) { _, lists in expected += lists }
        let blended = blend.topK(training, k: 3)
        #expect(blended.map { $0.map(\.item) } == expected.map { $0.map(\.item) })
        // Blended scores are probabilities and fall with rank.
        let mixed = Blend(model: model, contender: fitted, weight: 0.5).topK(training, k: 6, excludeSeen: true)
        for list in mixed {
            #expect(list.allSatisfy { $0.score >= 0 && $0.score <= 1 })
            #expect(zip(list, list.dropFirst()).allSatisfy { $0.score >= $1.score })
        }
        #expect(zip(training, mixed).allSatisfy { Set($0.0).isDisjoint(with: $0.1.map(\.item)) })
    }
}

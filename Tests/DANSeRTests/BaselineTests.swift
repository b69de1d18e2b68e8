import Testing

@testable import DANSeR

@Suite struct BaselineTests {
    let training: [Session] = [[1, 2, 3], [1, 2], [2, 3, 4], [5, 1, 2], [4, 5]]

    @Test func popularityRanksByTrainingClicks() {
        let baseline = PopularityBaseline(training: training, itemCount: 6)
        #expect(baseline.ranking.prefix(3) == [2, 1, 3] || baseline.ranking.prefix(2) == [2, 1])
        #expect(baseline.clickCounts[2] == 4)
        let result = baseline.evaluate(on: PrefixSet(sessions: [[3, 2], [1, 6]]), cutoffs: [1, 20])
        #expect(result.count == 2)
        #expect(result.precision(at: 1) == 0.5)  // 2 is first; 6 was never clicked: a miss
        #expect(result.precision(at: 20) == 0.5)
    }

    @Test func sessionKNNVotesWithSimilarSessions() {
        let knn = SessionKNN(training: training, itemCount: 6, neighbours: 10, sampleSize: 10)
        // Every session with 1 also has 2, so 2 gets as many votes as 1 itself, more than 3 or 5.
        let scores = knn.scores(for: [1])
        #expect(scores[2] == scores[1])
        #expect(scores[2]! > scores[3]!)
        #expect(knn.recommend([1], k: 2).map(\.item) == [1, 2])
        #expect(knn.scores(for: [6]).isEmpty)
        let result = knn.evaluate(on: PrefixSet(sessions: [[1, 2], [6, 1]]), cutoffs: [1, 20])
        #expect(result.precision(at: 20) == 0.5)
        // 2 ties with 1 and ranks after it, as `recommend` orders them: not a hit at 1.
        #expect(result.precision(at: 1) == 0)
    }

    @Test func sessionKNNIsIndependentOfOrderOfExamples() {
        let knn = SessionKNN(training: training, itemCount: 6)
        let sessions: [Session] = [[1, 2, 3], [4, 5, 1], [2, 4]]
        let forward = knn.evaluate(on: PrefixSet(sessions: sessions))
        let backward = knn.evaluate(on: PrefixSet(sessions: sessions.reversed()))
        #expect(forward.precision(at: 20) == backward.precision(at: 20))
        #expect(forward.reciprocalRank(at: 20) == backward.reciprocalRank(at: 20))
    }
}

import Testing
@testable import DANSeR

@Suite struct EpochSelectionTests {
    /// A result with one example per rank (0 = first): MRR@20 is the mean of 1 / (rank + 1) below 20.
    static func result(ranks: [Int]) -> EvaluationResult {
        var result = EvaluationResult(cutoffs: [10, 20])
        for rank in ranks { result.record(rank: rank) }
        return result
    }

    @Test func choosesOnMRRThenPrecisionAndStopsAfterPatience() throws {
        let model = try Model(configuration: Toy.configuration, itemCount: 5, seed: 1)
        var selection = EpochSelection(patience: 2)
        var news: [Bool] = []
        news.append(selection.record(epoch: 1, validation: Self.result(ranks: [0, 30]), model: model))  // MRR .5, P .5
        news.append(selection.record(epoch: 2, validation: Self.result(ranks: [30, 0]), model: model))  // a tie: the earlier stays
        news.append(selection.record(epoch: 3, validation: Self.result(ranks: [1, 1]), model: model))  // MRR .5, P 1: better
        news.append(selection.record(epoch: 4, validation: Self.result(ranks: [2, 2]), model: model))  // MRR 1/3
        #expect(!selection.shouldStop)
        news.append(selection.record(epoch: 5, validation: Self.result(ranks: [0, 30]), model: model))
        #expect(news == [true, false, true, false, false])
        #expect(selection.shouldStop)
        #expect(selection.bestEpoch == 3)
        #expect(selection.bestResult == Self.result(ranks: [1, 1]))
        selection.resume(after: 7)
        #expect(selection.epochsSinceBest == 4)
    }
}

import Testing
@testable import DANSeR

@Suite struct EpochSelectionTests {
    /// A result with one example per rank (0 = first): MRR@20 is the mean of 1 / (rank + 1) below 20.
    static func result(ranks: [Int]) -> EvaluationResult {
        var result = EvaluationResult(cutoffs: [10, 20])
        for rank in ranks { result.record(rank: rank) }
        return result
    }

    @Test func choosesOnPrecisionPlusMRRThenMRRAndStopsAfterPatience() throws {
        let model = try Model(configuration: Toy.configuration, itemCount: 5, seed: 1)
        var selection = EpochSelection(patience: 2)
        var news: [Bool] = []
        news.append(selection.record(epoch: 1, validation: Self.result(ranks: [0, 30]), model: model))  // P .5 + MRR .5
        news.append(selection.record(epoch: 2, validation: Self.result(ranks: [30, 0]), model: model))  // a tie: the earlier stays
        news.append(selection.record(epoch: 3, validation: Self.result(ranks: [2, 2]), model: model))  // P 1 + MRR 1/3: better, though MRR fell
        news.append(selection.record(epoch: 4, validation: Self.result(ranks: [0, 30, 30]), model: model))  // P 1/3 + MRR 1/3: lower
        #expect(!selection.shouldStop)
        news.append(selection.record(epoch: 5, validation: Self.result(ranks: [4, 1]), model: model))  // P 1 + MRR .35: better
        news.append(selection.record(epoch: 6, validation: Self.result(ranks: [2, 2, 30, 0]), model: model))  // lower sum
        news.append(selection.record(epoch: 7, validation: Self.result(ranks: [0, 30]), model: model))
        #expect(news == [true, false, true, false, true, false, false])
        #expect(selection.shouldStop)
        #expect(selection.bestEpoch == 5)
        #expect(selection.bestResult == Self.result(ranks: [4, 1]))
        selection.resume(after: 9)
        #expect(selection.epochsSinceBest == 4)
    }

    /// The same P@20 + MRR@20 (exact in binary): the higher MRR@20 wins.
    @Test func anEqualSumGoesToTheHigherMRR() {
        let moreMRR = Self.result(ranks: [0, 0, 30, 30])  // P .5 + MRR .5
        let morePrecision = Self.result(ranks: [1, 3, 3, 30])  // P .75 + MRR .25
        #expect(EpochSelection.isBetter(moreMRR, than: morePrecision))
        #expect(!EpochSelection.isBetter(morePrecision, than: moreMRR))
    }
}

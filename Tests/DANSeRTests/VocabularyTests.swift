import Foundation
import Testing

@testable import DANSeR

@Suite struct VocabularyTests {
    func clicks(_ sessions: [(String, [String], Int64)]) -> [Click<String, String>] {
        sessions.flatMap { session, items, start in
            items.enumerated().map { Click(session: session, item: $1, time: start + Int64($0)) }
        }
    }

    @Test func aStoredVocabularyKeepsItsIdsAndIsOnlyExtended() throws {
        let log = clicks([("a", ["x", "y", "z"], 0), ("b", ["z", "w", "x"], 10), ("c", ["w", "y"], 100)])
        let split = try SessionSplit(clicks: log, testFrom: 100, minItemClicks: 1, vocabulary: ["old", "w", "x"])
        #expect(Array(split.itemIDs.prefix(3)) == ["old", "w", "x"])
        #expect(Set(split.itemIDs.dropFirst(3)) == ["y", "z"])
        #expect(split.training.first == [3, Int32(split.itemIDs.firstIndex(of: "y")! + 1), Int32(split.itemIDs.firstIndex(of: "z")! + 1)])
        #expect(split.test == [[2, Int32(split.itemIDs.firstIndex(of: "y")! + 1)]])
    }
}

@Suite struct ModelGrowthTests {
    @Test func growingKeepsEveryOldWeightAndScoresOldItemsAlike() throws {
        var configuration = ModelConfiguration.srgnn
        configuration.hiddenSize = 8
        let model = try Model(configuration: configuration, itemCount: 10, seed: 1)
        let grown = try model.growing(toItemCount: 14, seed: 2)
        #expect(grown.itemCount == 14)
        #expect(grown.parameters.count > model.parameters.count)
        var before: [[Recommendation]] = []
        var after: [[Recommendation]] = []
        Recommender(model: model).topK([[1, 2, 3]], k: 10) { before += $1 }
        Recommender(model: grown).topK([[1, 2, 3]], k: 14) { after += $1 }
        // Old items keep their scores; the new ones are merely added to the ranking.
        let oldAfter = after[0].filter { $0.item <= 10 }
        #expect(oldAfter.map(\.item) == before[0].map(\.item))
        #expect(zip(oldAfter, before[0]).allSatisfy { abs($0.score - $1.score) < 1e-5 })
    }

    @Test func shrinkingIsRefused() throws {
        let model = try Model(configuration: .srgnn, itemCount: 10, seed: 1)
        #expect(throws: DANSeRError.self) { try model.growing(toItemCount: 9, seed: 1) }
    }
}

@Suite struct BehaviourStatisticsTests {
    @Test func countsPriorsAndSessionSpread() {
        let stats = BehaviourStatistics(training: [[1, 1, 2], [2, 3], [1]], itemCount: 4)
        #expect(stats.clickCounts == [0, 3, 2, 1, 0])
        #expect(stats.totalClicks == 6)
        // pi_j = log((c_j + 1) / (C + N)) with C = 6, N = 4.
        #expect(abs(Double(stats.logPriors[1]) - log(4.0 / 10)) < 1e-6)
        #expect(abs(Double(stats.logPriors[4]) - log(1.0 / 10)) < 1e-6)
        #expect(stats.sessionPriorSD > 0)
        #expect(stats.popularityTaste(of: [1, 1]) > 0)
        #expect(stats.popularityTaste(of: [3]) < 0)
    }
}

@Suite struct WarmStartTests {
    @Test func keepsTheWeightsAndTrainsAtTheGivenRate() throws {
        var configuration = ModelConfiguration.srgnn
        configuration.hiddenSize = 8
        let model = try Model(configuration: configuration, itemCount: 12, seed: 4)
        let rate = configuration.learningRate * 0.1
        let trainer = try Trainer(warmStartFrom: model, learningRate: rate, seed: 5)
        #expect(trainer.model.parameters == model.parameters)
        #expect(abs(trainer.learningRate(epoch: 0) - rate) < 1e-9)
        #expect(throws: DANSeRError.self) { try Trainer(warmStartFrom: model, learningRate: 0, seed: 5) }
    }

    /// Night after night of fine-tunes: each starts from the last fine-tuned model, whose stored
    /// rate is already the fine-tune rate; the next one trains at that rate again, not a tenth of it.
    @Test func aFineTuneOfAFineTuneKeepsTheRate() throws {
        var configuration = ModelConfiguration.srgnn
        configuration.hiddenSize = 8
        let rate = configuration.learningRate * 0.1
        var model = try Model(configuration: configuration, itemCount: 12, seed: 4)
        for _ in 1...3 {
            model = try Trainer(warmStartFrom: model, learningRate: rate, seed: 5).model
            #expect(abs(model.configuration.learningRate - rate) < 1e-9)
        }
    }

    /// A fine-tune's own schedule: an epoch at the given rate, then the preset's decay each epoch.
    @Test func aFineTuneCanDecayOnItsOwnStep() throws {
        var configuration = ModelConfiguration.srgnn
        configuration.hiddenSize = 8
        let model = try Model(configuration: configuration, itemCount: 12, seed: 4)
        let rate = configuration.learningRate
        let stepped = try Trainer(warmStartFrom: model, learningRate: rate, decayStep: 1, seed: 5)
        #expect(abs(stepped.learningRate(epoch: 0) - rate) < 1e-9)
        #expect(abs(stepped.learningRate(epoch: 1) - rate * configuration.decayRate) < 1e-9)
        let preset = try Trainer(warmStartFrom: model, learningRate: rate, seed: 5)
        #expect(abs(preset.learningRate(epoch: 1) - rate) < 1e-9)
        #expect(throws: DANSeRError.self) { try Trainer(warmStartFrom: model, learningRate: rate, decayStep: 0, seed: 5) }
    }
}

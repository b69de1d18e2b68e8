import Testing

@testable import DANSeR

/// `Model.shrunk`: a fine-tune's start part of the way back to a fresh initialization.
@Suite struct ModelShrinkTests {
    private func trainedModel() throws -> Model {
        var configuration = ModelConfiguration.danser
        configuration.hiddenSize = 6
        var trainer = try Trainer(configuration: configuration, itemCount: 12, seed: 3)
        _ = try trainer.trainEpoch(on: PrefixSet(sessions: [[1, 2, 3, 2, 4], [5, 3, 9], [6, 7, 1, 2, 12], [3, 4, 7, 8, 10, 11]]))
        return trainer.model
    }

    /// Each weight lies between the model's and a fresh model's from the same seed, by the share kept.
    @Test func mixesTheWeightsWithAFreshStart() throws {
        let model = try trainedModel()
        let fresh = try Model(configuration: model.configuration, itemCount: model.itemCount, seed: 9)
        let shrunk = try model.shrunk(keeping: 0.25, seed: 9)
        let statistics = Set(statisticIndices(model))
        var moved = 0
        for index in model.parameters.indices where !statistics.contains(index) {
            #expect(abs(shrunk.parameters[index] - (0.25 * model.parameters[index] + 0.75 * fresh.parameters[index])) < 1e-6)
            if shrunk.parameters[index] != model.parameters[index] { moved += 1 }
        }
        #expect(moved > model.parameters.count / 2)
    }

    /// The behaviour statistics are counts, not weights: they stay as the model had them.
    @Test func keepsTheBehaviourStatistics() throws {
        let model = try trainedModel()
        let shrunk = try model.shrunk(keeping: 0.5, seed: 9)
        let indices = statisticIndices(model)
        #expect(!indices.isEmpty)
        #expect(indices.allSatisfy { shrunk.parameters[$0] == model.parameters[$0] })
        #expect(!shrunk.needsBehaviourStatistics)
    }

    @Test func keepingAllIsTheModelAndNothingIsRefused() throws {
        let model = try trainedModel()
        #expect(try model.shrunk(keeping: 1, seed: 9).parameters == model.parameters)
        for keep: Float in [0, -0.5, 1.5, .nan] {
            #expect(throws: DANSeRError.self) { _ = try model.shrunk(keeping: keep, seed: 9) }
        }
    }

    private func statisticIndices(_ model: Model) -> [Int] {
        guard let behaviour = model.network.head.behaviour else { return [] }
        return [behaviour.logPriors, behaviour.sessionPrior].flatMap { $0.offset..<($0.offset + $0.count) }
    }
}

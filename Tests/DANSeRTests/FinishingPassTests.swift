@testable import DANSeR
import Testing

/// The finishing pass passes over the sessions ending within the last N days, at its own rate,
/// and leaves the behaviour statistics of the first epoch as they were.
@Suite struct FinishingPassTests {
    static let day: Int64 = 86_400_000_000

    @Test func itTakesTheSessionsEndingWithinTheLastDays() {
        let sessions: [Session] = [[1, 2], [2, 3], [3, 4], [4, 5]]
        let ends: [Int64] = [0, 5 * Self.day, 9 * Self.day + 1, 10 * Self.day]
        #expect(FinishingPass(days: 1).recent(sessions, endTimes: ends) == [[3, 4], [4, 5]])
        #expect(FinishingPass(days: 5).recent(sessions, endTimes: ends) == [[3, 4], [4, 5]])
        #expect(FinishingPass(days: 6).recent(sessions, endTimes: ends) == [[2, 3], [3, 4], [4, 5]])
        #expect(FinishingPass(days: 30).recent(sessions, endTimes: ends) == sessions)
    }

    @Test func itTrainsOnePassAtItsRateAndKeepsTheStatistics() throws {
        var configuration = ModelConfiguration.danser
        configuration.batchSize = 2
        var trainer = try Trainer(configuration: configuration, itemCount: 6, seed: 1)
        let sessions: [Session] = [[1, 2, 3], [2, 3, 4], [4, 5, 6], [5, 6, 1]]
        _ = try trainer.trainEpoch(on: PrefixSet(sessions: sessions))
        let priors = try #require(trainer.model.network.head.behaviour).logPriors
        func counted(_ trainer: Trainer) -> [Float] { Array(trainer.model.parameters[priors.offset..<(priors.offset + priors.count)]) }
        let statistics = counted(trainer)
        let before = trainer.model.parameters
        let pass = FinishingPass(days: 1, learningRate: 1e-3)
        let summary = try pass.run(&trainer, sessions: sessions, endTimes: [0, 0, 2 * Self.day, 2 * Self.day])
        #expect(summary.sessions == 2 && summary.prefixes == 4)
        #expect(trainer.completedEpochs == 2)
        #expect(trainer.model.parameters != before)
        // Popularity stays that of the four sessions of the first epoch, not of the two passed over.
        #expect(counted(trainer) == statistics)
        #expect(pass.describe(summary) == "one pass over the last 1 day(s) (2 sessions, 4 prefixes) at lr 1.0e-03")

        // Further rates are further passes over the same sessions.
        let twice = FinishingPass(days: 1, learningRate: 1e-3, furtherLearningRates: [1e-4])
        let again = try twice.run(&trainer, sessions: sessions, endTimes: [0, 0, 2 * Self.day, 2 * Self.day])
        #expect(trainer.completedEpochs == 4)
        #expect(twice.describe(again) == "2 passes over the last 1 day(s) (2 sessions, 4 prefixes) at lr 1.0e-03, then 1.0e-04")
    }
}

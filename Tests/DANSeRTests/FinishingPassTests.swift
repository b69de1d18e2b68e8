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
        #expect(pass.describe(summary) == "one pass over the last 1 day(s) (2 sessions, 4 prefixes) at lr 1.0e-03, day by day")

        // Further rates are further passes over the same sessions.
        let twice = FinishingPass(days: 1, learningRate: 1e-3, furtherLearningRates: [1e-4])
        let again = try twice.run(&trainer, sessions: sessions, endTimes: [0, 0, 2 * Self.day, 2 * Self.day])
        #expect(trainer.completedEpochs == 4)
        #expect(twice.describe(again) == "2 passes over the last 1 day(s) (2 sessions, 4 prefixes) at lr 1.0e-03, then 1.0e-04, day by day")
    }

    @Test func itCanRecountPopularityAndChangeDropoutForThePassOnly() throws {
        var configuration = ModelConfiguration.danser
        configuration.batchSize = 2
        let sessions: [Session] = [[1, 2, 3], [2, 3, 4], [4, 5, 6], [5, 6, 1]]
        let ends: [Int64] = [0, 0, 2 * Self.day, 2 * Self.day]
        var trainer = try Trainer(configuration: configuration, itemCount: 6, seed: 1)
        _ = try trainer.trainEpoch(on: PrefixSet(sessions: sessions))
        let epochOne = trainer
        let priors = try #require(trainer.model.network.head.behaviour).logPriors
        func counted(_ trainer: Trainer) -> [Float] { Array(trainer.model.parameters[priors.offset..<(priors.offset + priors.count)]) }

        // Recounted on the two recent sessions: what a count of those two alone gives.
        let recounting = FinishingPass(days: 1, learningRate: 1e-3, recountsPopularity: true)
        let summary = try recounting.run(&trainer, sessions: sessions, endTimes: ends)
        #expect(counted(trainer) == BehaviourStatistics(training: [[4, 5, 6], [5, 6, 1]], itemCount: 6).logPriors)
        #expect(recounting.describe(summary).hasSuffix("at lr 1.0e-03, popularity recounted on them, day by day"))

        // Without dropout the pass moves the weights elsewhere; the override ends with the pass.
        var withDropout = epochOne
        var withoutDropout = epochOne
        _ = try FinishingPass(days: 1, learningRate: 1e-3).run(&withDropout, sessions: sessions, endTimes: ends)
        let plain = FinishingPass(days: 1, learningRate: 1e-3, dropout: 0)
        let plainSummary = try plain.run(&withoutDropout, sessions: sessions, endTimes: ends)
        #expect(withDropout.model.parameters != withoutDropout.model.parameters)
        #expect(withoutDropout.dropoutOverride == nil)
        #expect(plain.describe(plainSummary).hasSuffix("at lr 1.0e-03, dropout 0.0, day by day"))
    }

    @Test func dayByDayKeepsTheShuffleWithinEachDayAndEndsOnTheLastDay() {
        // Sessions ending on day 0, 2, 0 and 1: two, one, two and one prefixes.
        let examples = PrefixSet(sessions: [[1, 2, 3], [2, 3], [3, 4, 5], [4, 5]])
        let ends: [Int64] = [0, 2 * Self.day + 5, 3, Self.day]
        let shuffled = [5, 3, 0, 4, 2, 1]
        let order = FinishingPass.dayByDay(shuffled, of: examples, endTimes: ends)
        // Day 0 (examples 0, 1 of session 0; 3, 4 of session 2) in shuffled order, then day 1 (5), day 2 (2).
        #expect(order == [3, 0, 4, 1, 5, 2])
    }
}

import ArgumentParser
import Testing

@testable import BatchJob

/// `--retrain-every-days`: auto mode's cadence reaches the rule, 1 retrains every night, and
/// refused values name the option.
@Suite struct RetrainCadenceOptionTests {
    let today = LogicalDate(argument: "2026-05-25")!

    func decide(_ arguments: [String], retrainedDaysAgo days: Int) throws -> TrainingMode {
        var settings = NightlySettings(asOf: today)
        try TrainingOptions.parse(arguments).apply(to: &settings)
        let champion = TrainingModeRule.Champion(lastRetrainAsOf: today.adding(days: -days), itemCount: 1000, configurationName: "danser")
        return settings.modeRule.decide(asOf: today, champion: champion, itemCount: 1000, configurationName: "danser").mode
    }

    @Test func theCadenceReachesTheRule() throws {
        #expect(try decide([], retrainedDaysAgo: 1) == .finetune)
        #expect(try decide([], retrainedDaysAgo: 7) == .retrain)
        #expect(try decide(["--retrain-every-days", "1"], retrainedDaysAgo: 1) == .retrain)
        #expect(try decide(["--retrain-every-days", "3"], retrainedDaysAgo: 2) == .finetune)
        #expect(try decide(["--retrain-every-days", "3"], retrainedDaysAgo: 3) == .retrain)
    }

    @Test func refusedValuesNameTheOption() {
        for value in ["0", "-1", "3651"] {
            #expect { _ = try TrainingOptions.parse(["--retrain-every-days", value]) } throws: { error in
                TrainingOptions.message(for: error).contains("--retrain-every-days")
            }
        }
    }
}

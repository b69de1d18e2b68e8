import ArgumentParser
import Testing

@testable import BatchJob

/// `--finetune-rate-scale` and `--finetune-decay-epochs`: refused values name the option, and
/// the settings reach the night.
@Suite struct FineTuneRateOptionTests {
    @Test func refusedValuesNameTheOption() {
        for (flag, value) in [
            ("--finetune-rate-scale", "0"), ("--finetune-rate-scale", "-1"), ("--finetune-rate-scale", "11"), ("--finetune-rate-scale", "nan"),
            ("--finetune-decay-epochs", "0"), ("--finetune-decay-epochs", "1001"),
        ] {
            #expect { _ = try TrainingOptions.parse([flag, value]) } throws: { error in
                TrainingOptions.message(for: error).contains(flag)
            }
        }
    }

    @Test func theShareReachesTheNight() throws {
        var settings = NightlySettings(asOf: LogicalDate(day: 20_000))
        try TrainingOptions.parse(["--finetune-rate-scale", "0.5", "--finetune-decay-epochs", "2"]).apply(to: &settings)
        #expect(settings.finetuneRateScale == 0.5 && settings.finetuneDecayEpochs == 2)
        var defaults = NightlySettings(asOf: LogicalDate(day: 20_000))
        try TrainingOptions.parse([]).apply(to: &defaults)
        let built = NightlySettings(asOf: LogicalDate(day: 20_000))
        #expect(defaults.finetuneRateScale == built.finetuneRateScale && defaults.finetuneDecayEpochs == built.finetuneDecayEpochs)
    }
}

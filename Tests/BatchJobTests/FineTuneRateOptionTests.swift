import ArgumentParser
import Testing

@testable import BatchJob

/// `--finetune-rate-scale`, `--finetune-decay-epochs` and `--finetune-keep`: refused values name the option, and
/// the settings reach the night.
@Suite struct FineTuneRateOptionTests {
    @Test func refusedValuesNameTheOption() {
        for (flag, value) in [
            ("--finetune-rate-scale", "0"), ("--finetune-rate-scale", "-1"), ("--finetune-rate-scale", "11"), ("--finetune-rate-scale", "nan"),
            ("--finetune-decay-epochs", "0"), ("--finetune-decay-epochs", "1001"),
            ("--finetune-keep", "0"), ("--finetune-keep", "1.5"), ("--finetune-keep", "nan"),
        ] {
            #expect { _ = try TrainingOptions.parse([flag, value]) } throws: { error in
                TrainingOptions.message(for: error).contains(flag)
            }
        }
    }

    @Test func theShareReachesTheNight() throws {
        var settings = NightlySettings(asOf: LogicalDate(day: 20_000))
        try TrainingOptions.parse(["--finetune-rate-scale", "0.5", "--finetune-decay-epochs", "2", "--finetune-keep", "0.6"]).apply(to: &settings)
        #expect(settings.finetuneRateScale == 0.5 && settings.finetuneDecayEpochs == 2 && settings.finetuneKeep == 0.6)
        var defaults = NightlySettings(asOf: LogicalDate(day: 20_000))
        try TrainingOptions.parse([]).apply(to: &defaults)
        let built = NightlySettings(asOf: LogicalDate(day: 20_000))
        #expect(defaults.finetuneRateScale == built.finetuneRateScale && defaults.finetuneDecayEpochs == built.finetuneDecayEpochs)
        #expect(defaults.finetuneKeep == built.finetuneKeep)
    }
}

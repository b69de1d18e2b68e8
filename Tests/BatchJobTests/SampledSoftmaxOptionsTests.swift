import ArgumentParser
import DANSeR
import Testing

@testable import BatchJob

/// `--sampled-softmax-above` and `--sampled-negatives`: refused values name the option, and the
/// settings reach the nightly job.
@Suite struct SampledSoftmaxOptionsTests {
    @Test func refusedValuesNameTheOption() {
        for (arguments, flag) in [
            (["--sampled-negatives", "0"], "--sampled-negatives"),
            (["--sampled-negatives", "2000000"], "--sampled-negatives"),
            (["--sampled-softmax-above=-1"], "--sampled-softmax-above"),
        ] {
            #expect { _ = try TrainingOptions.parse(arguments) } throws: { error in
                TrainingOptions.message(for: error).contains(flag)
            }
            #expect { _ = try ExperimentCommand.parse(["--clicks", "c.csv", "--test-from", "2016-05-25"] + arguments) } throws: { error in
                ExperimentCommand.message(for: error).contains(flag)
            }
        }
    }

    @Test func theSettingsReachTheNight() throws {
        let options = try TrainingOptions.parse(["--sampled-softmax-above", "0", "--sampled-negatives", "300"])
        var settings = NightlySettings(asOf: LogicalDate(day: 20_000))
        options.apply(to: &settings)
        #expect(settings.sampledSoftmaxAbove == 0 && settings.sampledNegatives == 300)
        let defaults = try TrainingOptions.parse([])
        #expect(defaults.sampledSoftmaxAbove == SampledSoftmax.defaultThreshold)
        #expect(defaults.sampledNegatives == SampledSoftmax.defaultNegatives)
        #expect(SampledSoftmax.forCatalogue(itemCount: 43_097, threshold: SampledSoftmax.defaultThreshold, negatives: 1) == nil)
    }
}

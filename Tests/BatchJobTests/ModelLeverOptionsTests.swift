import DANSeR
import Testing

@testable import BatchJob

/// `experiment`'s levers change only what they name; K is the full-budget ablation's knob.
@Suite struct ModelLeverOptionsTests {
    @Test func propagationStepsSetsK() throws {
        let two = try ModelLeverOptions.parse(["--propagation-steps", "2"]).applied(to: .danser)
        #expect(two.propagationSteps == 2)
        #expect(two.usesFieldAttention)
        var expected = ModelConfiguration.danser
        expected.propagationSteps = 2
        #expect(two == expected)
        let one = try ModelLeverOptions.parse(["--propagation-steps", "1"]).applied(to: .danser)
        #expect(one == Ablation.oneField.applied(to: .danser))
        #expect(try ModelLeverOptions.parse(["--propagation-steps", "2"]).names == ["K 2"])
    }

    @Test func noLeverLeavesThePreset() throws {
        #expect(try ModelLeverOptions.parse([]).applied(to: .danser) == .danser)
        #expect(try ModelLeverOptions.parse([]).names.isEmpty)
    }

    /// SANS is off in the preset; `--sans` turns it on, and with it the ramp becomes valid.
    @Test func sansTurnsAdaptiveNegativesOn() throws {
        #expect(!ModelConfiguration.danser.usesAdaptiveNegatives)
        let on = try ModelLeverOptions.parse(["--sans", "--sans-ramp-epochs", "2"]).applied(to: .danser)
        var expected = ModelConfiguration.allParts
        expected.propagationSteps = ModelConfiguration.danser.propagationSteps
        expected.cosineScale = ModelConfiguration.danser.cosineScale
        expected.negativeRampEpochs = 2
        #expect(on == expected)
        try on.validate()
        #expect(try ModelLeverOptions.parse(["--sans"]).names == ["sans"])
    }

    @Test func zeroStepsAreRefused() {
        #expect(throws: (any Error).self) { _ = try ModelLeverOptions.parse(["--propagation-steps", "0"]) }
    }

    /// The cosine scale and dropout change those two numbers and nothing else.
    @Test func cosineScaleAndDropoutSetTheirNumbers() throws {
        let levers = try ModelLeverOptions.parse(["--cosine-scale", "16", "--dropout", "0.2"])
        var expected = ModelConfiguration.danser
        expected.cosineScale = 16
        expected.dropout = 0.2
        #expect(levers.applied(to: .danser) == expected)
        #expect(levers.names == ["cosine-scale 16.0", "dropout 0.2"])
        #expect(throws: (any Error).self) { _ = try ModelLeverOptions.parse(["--cosine-scale", "0"]) }
        #expect(throws: (any Error).self) { _ = try ModelLeverOptions.parse(["--dropout", "1"]) }
    }
}

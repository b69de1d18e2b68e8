internal import Foundation
import Testing
@testable import DANSeR

/// The quality levers of MODEL.md section 10 (highway gate, reversed positions, label smoothing,
/// SANS ramp): finite-difference checks through the objective the trainer runs, and with every
/// lever off nothing of either preset changes.
@Suite struct QualityLeverTests {
    let gradients = DANSeRGradientTests()

    @Test func highwayGate() throws {
        let setup = try DANSeRGradientTests.setup { $0.usesHighwayGate = true }
        #expect(setup.layout.slots.contains { $0.name == "highway.gate.weight" })
        gradients.expectGradientsMatch(setup)
        // Read by attention 2 across several fields as well, with dropout on H0.
        let fields = try DANSeRGradientTests.setup {
            $0.usesHighwayGate = true
            $0.propagationSteps = 3
            $0.usesFieldAttention = true
            $0.attentionWeighting = .softmax
        }
        var random = RandomSource(seed: 8)
        let mask = DANSeRObjective.dropoutMask(
            nodes: fields.batch.nodeCount, hidden: fields.model.configuration.hiddenSize, rate: 0.3, random: &random)
        gradients.expectGradientsMatch(fields, mask: mask)
    }

    @Test func reversedPositions() throws {
        let setup = try DANSeRGradientTests.setup {
            $0.usesReversedPositions = true
            $0.maxSessionLength = 6
        }
        #expect(setup.layout.slots.contains { $0.name == "attention.positions" && $0.rows == 6 })
        gradients.expectGradientsMatch(setup)
        // Softmax attention, one table per field.
        let perField = try DANSeRGradientTests.setup {
            $0.usesReversedPositions = true
            $0.maxSessionLength = 6
            $0.propagationSteps = 2
            $0.usesFieldAttention = true
            $0.sharesAttentionWeights = false
            $0.attentionWeighting = .softmax
        }
        #expect(perField.layout.slots.contains { $0.name == "attention.k2.positions" })
        gradients.expectGradientsMatch(perField)
    }

    /// Row 0 of P belongs to the last click of every session: the gradient of row r sums over the
    /// positions r clicks before the end, so rows beyond the longest session stay zero.
    @Test func positionsCountFromTheLastClick() throws {
        let setup = try DANSeRGradientTests.setup {
            $0.usesReversedPositions = true
            $0.maxSessionLength = 8
        }
        var values = setup.model.parameters
        let grads = DANSeRGradientTests.objective(setup, &values, backward: true).1
        let slot = try #require(setup.layout.slots.first { $0.name == "attention.positions" })
        let rows = (0..<slot.rows).map { r in grads[(slot.offset + r * slot.cols)..<(slot.offset + (r + 1) * slot.cols)] }
        // The longest session of the setup has 5 clicks: rows 0...4 are read, 5... never.
        for r in 0..<5 { #expect(rows[r].contains { $0 != 0 }, "row \(r)") }
        for r in 5..<8 { #expect(rows[r].allSatisfy { $0 == 0 }, "row \(r)") }
    }

    @Test func labelSmoothing() throws {
        gradients.expectGradientsMatch(try DANSeRGradientTests.setup { $0.labelSmoothing = 0.2 })
        gradients.expectGradientsMatch(try DANSeRGradientTests.setup {
            $0.labelSmoothing = 0.1
            $0.normalizesVectors = true
            $0.usesBehaviourNormalization = true
        })
    }

    /// The smoothed loss is -sum_j q_j log p_j, computed here the long way.
    @Test func labelSmoothingLossIsTheSmoothedCrossEntropy() {
        let logits: [Float] = [0.5, -1, 2, 0.25, -0.75]
        let epsilon: Float = 0.3
        var row = logits
        let loss = row.withUnsafeMutableBufferPointer {
            SoftmaxCrossEntropy.lossAndGradient(row: $0.baseAddress!, columns: 5, target: 2, scale: 1, smoothing: epsilon)
        }
        let z = logits.map { exp(Double($0)) }.reduce(0, +)
        var expected = 0.0
        for (j, l) in logits.enumerated() {
            let q = Double(epsilon) / 5 + (j == 2 ? 1 - Double(epsilon) : 0)
            expected -= q * (Double(l) - log(z))
            #expect(abs(Double(row[j]) - (exp(Double(l)) / z - q)) < 1e-6)
        }
        #expect(abs(loss - expected) < 1e-5)
    }

    @Test func sansRamp() throws {
        var c = ModelConfiguration.allParts
        #expect(c.negativeLossWeight(atEpoch: 0) == c.negativeLossWeight)
        c.negativeRampEpochs = 4
        #expect(c.negativeLossWeight(atEpoch: 0) == 0)
        #expect(c.negativeLossWeight(atEpoch: 1) == c.negativeLossWeight / 4)
        #expect(c.negativeLossWeight(atEpoch: 3.5) == c.negativeLossWeight * 0.875)
        #expect(c.negativeLossWeight(atEpoch: 4) == c.negativeLossWeight)
        #expect(c.negativeLossWeight(atEpoch: 9) == c.negativeLossWeight)
        // The objective with the ramped weight is the objective of that weight.
        let setup = try DANSeRGradientTests.setup {
            $0.usesAdaptiveNegatives = true
            $0.negativeMargin = 1000
            $0.negativeRampEpochs = 2
        }
        var halved = setup.model.configuration
        halved.negativeLossWeight /= 2
        func loss(_ configuration: ModelConfiguration, weight: Float?) -> Double {
            let objective = DANSeRObjective(
                network: setup.network, configuration: configuration, threads: 1, negativeWeight: weight)
            var values = setup.model.parameters
            return TinySetup.withAccess(&values) { p in
                var logits = [Float](repeating: 0, count: setup.batch.count * setup.model.itemCount)
                var random = RandomSource(seed: 1)
                return logits.withUnsafeMutableBufferPointer {
                    objective.evaluate(setup.batch, p, logits: $0.baseAddress!, dropoutMask: nil, random: &random).loss
                }
            }.0
        }
        let ramped = setup.model.configuration.negativeLossWeight(atEpoch: 1)
        #expect(loss(setup.model.configuration, weight: ramped) == loss(halved, weight: nil))
        #expect(loss(setup.model.configuration, weight: 0) < loss(setup.model.configuration, weight: nil))
    }

    @Test func everyLeverWithEveryDANSeRPart() throws {
        let setup = try DANSeRGradientTests.setup {
            $0 = .allParts
            $0.negativeMargin = 1000
            $0.maxSessionLength = 6
            $0.usesHighwayGate = true
            $0.usesReversedPositions = true
            $0.labelSmoothing = 0.1
            $0.negativeRampEpochs = 3
        }
        var random = RandomSource(seed: 9)
        let mask = DANSeRObjective.dropoutMask(
            nodes: setup.batch.nodeCount, hidden: setup.model.configuration.hiddenSize, rate: 0.1, random: &random)
        gradients.expectGradientsMatch(setup, mask: mask)
    }

    /// Each switch is refused where it cannot act, naming both settings.
    @Test func contradictionsAreRefused() throws {
        var c = ModelConfiguration.srgnn
        c.negativeRampEpochs = 2
        #expect(throws: DANSeRError.self) { try c.validate() }
        do { try c.validate() } catch { #expect(error.message.contains("adaptive negatives off")) }
        c = .danser
        c.labelSmoothing = 1
        #expect(throws: DANSeRError.self) { try c.validate() }
        // Label smoothing on the sampled softmax is refused before training starts.
        c = .danser
        c.hiddenSize = 4
        c.labelSmoothing = 0.1
        var trainer = try Trainer(configuration: c, itemCount: 7, seed: 1)
        trainer.sampling = SampledSoftmax(negatives: 2)
        let examples = PrefixSet(sessions: [[1, 2, 3], [4, 5, 6, 7]])
        do {
            _ = try trainer.trainEpoch(on: examples)
            Issue.record("expected a refusal")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains("sampled softmax"))
        }
    }

    /// With every lever off (as in both presets, and in configurations stored before the levers
    /// existed) the layout holds no lever weight, a stored configuration reads back as the
    /// preset, and one epoch trains to the same weights, bit for bit, as the preset.
    @Test(arguments: ["srgnn", "danser"])
    func leversOffLeaveThePresetUnchanged(_ name: String) throws {
        let preset = try #require(ModelConfiguration.preset(named: name))
        #expect(!preset.usesHighwayGate && !preset.usesReversedPositions)
        #expect(preset.labelSmoothing == 0 && preset.negativeRampEpochs == 0)
        let json = try JSONEncoder().encode(preset)
        var object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        for key in ["usesHighwayGate", "usesReversedPositions", "labelSmoothing", "negativeRampEpochs"] {
            #expect(object.removeValue(forKey: key) != nil)
        }
        let older = try JSONDecoder().decode(
            ModelConfiguration.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(older == preset)
        var configuration = older
        configuration.hiddenSize = 8
        let (network, layout) = SessionNetwork.make(configuration: configuration, itemCount: 9)
        #expect(network.highway == nil && network.readouts.allSatisfy { $0.positions == nil })
        #expect(!layout.slots.contains { $0.name.hasPrefix("highway") || $0.name.hasSuffix("positions") })
        var withLevers = configuration
        withLevers.usesHighwayGate = true
        withLevers.usesReversedPositions = true
        let grown = SessionNetwork.make(configuration: withLevers, itemCount: 9).1
        // The levers' weights follow every weight of the preset, which keep their places.
        #expect(Array(grown.slots.prefix(while: { !$0.name.hasPrefix("highway") && !$0.name.hasSuffix("positions") }))
            == Array(layout.slots.prefix { !$0.name.hasPrefix("behaviour") }))
        let sessions: [Session] = [[1, 2, 3, 2, 4], [5, 6], [6, 7, 1, 8], [3, 4, 9, 9, 2], [8, 1]]
        var a = try Trainer(configuration: configuration, itemCount: 9, seed: 5, threads: 2)
        var explicit = configuration
        explicit.labelSmoothing = 0
        explicit.negativeRampEpochs = 0
        var b = try Trainer(configuration: explicit, itemCount: 9, seed: 5, threads: 2)
        _ = try a.trainEpoch(on: PrefixSet(sessions: sessions))
        _ = try b.trainEpoch(on: PrefixSet(sessions: sessions))
        #expect(a.model.parameters == b.model.parameters)
    }
}

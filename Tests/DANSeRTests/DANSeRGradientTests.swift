import Testing
@testable import DANSeR

/// Finite-difference checks of DANSeR's switches, each on its own and all together, through
/// the objective the trainer runs (`DANSeRObjective`).
@Suite struct DANSeRGradientTests {
    let check = GradientCheck()

    /// A tiny model with `configuration`; behaviour statistics filled in from the setup's sessions.
    static func setup(_ configure: (inout ModelConfiguration) -> Void) throws -> TinySetup {
        var configuration = ModelConfiguration.srgnn
        configure(&configuration)
        var setup = try TinySetup(configuration: configuration)
        var model = setup.model
        let sessions: [Session] = [[1, 2, 3, 2, 4, 5], [5, 3], [6, 6, 7, 1, 2], [3, 4, 7]]
        try model.setBehaviourStatistics(BehaviourStatistics(training: sessions, itemCount: model.itemCount))
        if let behaviour = model.network.head.behaviour {
            // Nonzero scalars, so every term of the adjustment is exercised.
            let o = behaviour.scalars.offset
            model.parameters[o] = 0.4
            model.parameters[o + 1] = -0.3
            model.parameters[o + 2] = 0.7
        }
        setup = TinySetup(model: model, batch: setup.batch)
        return setup
    }

    /// Mean objective and its analytic gradient for `values`.
    static func objective(
        _ setup: TinySetup, _ values: inout [Float], mask: [Float]? = nil, backward: Bool
    ) -> (Double, [Float]) {
        let batch = setup.batch
        let n = setup.model.itemCount
        let objective = DANSeRObjective(network: setup.network, configuration: setup.model.configuration, threads: 2)
        return TinySetup.withAccess(&values) { p in
            var logits = [Float](repeating: 0, count: batch.count * n)
            var random = RandomSource(seed: 1)
            return logits.withUnsafeMutableBufferPointer { l in
                objective.evaluate(batch, p, logits: l.baseAddress!, dropoutMask: mask, random: &random, backward: backward)
                    .loss / Double(batch.count)
            }
        }
    }

    /// Checks every trainable parameter (the behaviour statistics are not trained).
    func expectGradientsMatch(_ setup: TinySetup, mask: [Float]? = nil) {
        var values = setup.model.parameters
        let grads = Self.objective(setup, &values, mask: mask, backward: true).1
        let trainable = 0..<setup.network.frozenStart
        let result = check.firstMismatch(values: &values, analytic: grads, indices: trainable) { v in
            var v = v
            return Self.objective(setup, &v, mask: mask, backward: false).0
        }
        #expect(result == nil)
        #expect(grads[trainable].contains { $0 != 0 })
    }

    @Test func severalStepsWithSharedWeights() throws {
        expectGradientsMatch(try Self.setup { $0.propagationSteps = 3 })
    }

    @Test func perStepWeights() throws {
        let setup = try Self.setup {
            $0.propagationSteps = 2
            $0.sharesPropagationWeights = false
        }
        #expect(setup.layout.slots.contains { $0.name == "gnn.k2.edge_in.weight" })
        expectGradientsMatch(setup)
    }

    @Test func softmaxAttention() throws {
        expectGradientsMatch(try Self.setup { $0.attentionWeighting = .softmax })
    }

    @Test func attentionAcrossFields() throws {
        expectGradientsMatch(try Self.setup {
            $0.propagationSteps = 3
            $0.usesFieldAttention = true
        })
    }

    @Test func perFieldAttentionWeights() throws {
        let setup = try Self.setup {
            $0.propagationSteps = 2
            $0.usesFieldAttention = true
            $0.sharesAttentionWeights = false
            $0.attentionWeighting = .softmax
        }
        #expect(setup.layout.slots.contains { $0.name == "attention.k2.query" })
        expectGradientsMatch(setup)
    }

    @Test func normalizedCosineScores() throws {
        expectGradientsMatch(try Self.setup { $0.normalizesVectors = true })
    }

    @Test func behaviourNormalization() throws {
        let setup = try Self.setup { $0.usesBehaviourNormalization = true }
        expectGradientsMatch(setup)
        // With cosine scores as well.
        expectGradientsMatch(try Self.setup {
            $0.usesBehaviourNormalization = true
            $0.normalizesVectors = true
        })
    }

    /// The "no repeat term" ablation: the rest still matches, and rho gets no gradient.
    @Test func behaviourNormalizationWithoutRepeatTerm() throws {
        let setup = try Self.setup {
            $0.usesBehaviourNormalization = true
            $0.usesRepeatTerm = false
        }
        expectGradientsMatch(setup)
        var values = setup.model.parameters
        let grads = Self.objective(setup, &values, backward: true).1
        let scalars = setup.model.network.head.behaviour!.scalars.offset
        #expect(grads[scalars] != 0 && grads[scalars + 1] != 0)
        #expect(grads[scalars + 2] == 0)
    }

    /// Every negative within the margin, so the selection cannot flip under the finite differences.
    @Test func adaptiveNegativesLoss() throws {
        expectGradientsMatch(try Self.setup {
            $0.usesAdaptiveNegatives = true
            $0.negativeCandidates = 100
            $0.negativeMargin = 1000
        })
    }

    @Test func dropoutOnInitialStates() throws {
        let setup = try Self.setup { $0.dropout = 0.5 }
        var random = RandomSource(seed: 8)
        let mask = DANSeRObjective.dropoutMask(
            nodes: setup.batch.nodeCount, hidden: setup.model.configuration.hiddenSize, rate: 0.5, random: &random)
        #expect(mask!.contains(0) && mask!.contains(2))
        expectGradientsMatch(setup, mask: mask)
    }

    @Test func everySwitchTogether() throws {
        var setup = try Self.setup {
            $0 = .allParts
            $0.negativeMargin = 1000
            $0.sharesPropagationWeights = false
            $0.sharesAttentionWeights = false
        }
        setup = TinySetup(model: setup.model, batch: setup.batch)
        var random = RandomSource(seed: 9)
        let mask = DANSeRObjective.dropoutMask(
            nodes: setup.batch.nodeCount, hidden: setup.model.configuration.hiddenSize, rate: 0.1, random: &random)
        expectGradientsMatch(setup, mask: mask)
    }
}

extension TinySetup {
    init(model: Model, batch: SessionBatch) {
        self.model = model
        self.batch = batch
    }
}

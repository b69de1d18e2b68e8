internal import Foundation
import Testing
@testable import DANSeR

/// DANSeR's switches: contradictions refused by name, the hard-negative count adapting per
/// session, one scoring path for training, evaluation and publication, checkpoints.
@Suite struct DANSeRConfigurationTests {
    /// Each contradiction is refused with a message that names both settings.
    @Test(arguments: 0..<6)
    func contradictionsAreRefused(_ index: Int) {
        var c = ModelConfiguration.srgnn
        let words: [String]
        switch index {
        case 0:
            c.sharesPropagationWeights = false
            words = ["per-step", "propagation steps 1"]
        case 1:
            c.sharesAttentionWeights = false
            words = ["per-field", "propagation steps 1"]
        case 2:
            c.propagationSteps = 3
            c.sharesAttentionWeights = false
            words = ["per-field", "field attention off"]
        case 3:
            c.usesUniformNegatives = true
            words = ["uniform negatives", "adaptive negatives off"]
        case 4:
            c.usesRepeatTerm = false
            words = ["repeat term off", "behaviour normalization off"]
        default:
            c.cosineScale = 20
            words = ["cosine scale", "normalize off"]
        }
        do {
            try c.validate()
            Issue.record("case \(index): expected a refusal")
        } catch {
            #expect(error.code == .invalidConfiguration)
            for word in words { #expect(error.message.contains(word), "case \(index): \(error.message)") }
        }
    }

    @Test func everySwitchOnItsOwnValidates() throws {
        try ModelConfiguration.danser.validate()
        try ModelConfiguration.allParts.validate()
        for ablation in Ablation.allCases {
            let c = ablation.applied(to: .allParts)
            #expect(c != .allParts, "\(ablation.rawValue) changes nothing")
            try c.validate()
        }
        // The preset is every part but SANS, with two propagation steps and a cosine scale of 10.
        var preset = Ablation.noNegativeSampling.applied(to: .allParts)
        preset.propagationSteps = 2
        preset.cosineScale = 10
        #expect(ModelConfiguration.danser == preset)
        #expect(ModelConfiguration.srgnn.usesFusedScoring)
        #expect(!ModelConfiguration.danser.usesFusedScoring)
    }

    /// A configuration stored before a switch existed reads back with that switch's default.
    @Test func olderStoredConfigurationsStillDecode() throws {
        let json = try JSONEncoder().encode(ModelConfiguration.danser)
        var object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        object.removeValue(forKey: "usesRepeatTerm")
        let older = try JSONSerialization.data(withJSONObject: object)
        #expect(try JSONDecoder().decode(ModelConfiguration.self, from: older) == .danser)
    }

    /// The hand-written decoder reads every field: a configuration with each one changed from
    /// its default survives the round trip (and a field added later must be changed here too).
    @Test func everyFieldSurvivesARoundTrip() throws {
        var c = ModelConfiguration()
        c.hiddenSize = 64; c.propagationSteps = 2; c.sharesPropagationWeights = false
        c.attentionWeighting = .softmax; c.sharesAttentionWeights = false; c.usesFieldAttention = true
        c.normalizesVectors = true; c.cosineScale = 10; c.usesBehaviourNormalization = true
        c.usesRepeatTerm = false; c.usesAdaptiveNegatives = true; c.negativeCandidates = 50
        c.negativeMargin = 2; c.negativeLossWeight = 0.25; c.usesUniformNegatives = true; c.dropout = 0.2
        c.learningRate = 5e-4; c.l2 = 1e-4; c.decayStep = 2; c.decayRate = 0.5; c.batchSize = 64
        c.maxSessionLength = 50; c.usesHighwayGate = true; c.usesReversedPositions = true
        c.labelSmoothing = 0.1; c.negativeRampEpochs = 2
        let defaults = Mirror(reflecting: ModelConfiguration()).children.map { String(describing: $0.value) }
        for (field, value) in zip(Mirror(reflecting: c).children, defaults) {
            #expect(String(describing: field.value) != value, "\(field.label ?? "?") is still its default")
        }
        #expect(try JSONDecoder().decode(ModelConfiguration.self, from: JSONEncoder().encode(c)) == c)
    }

    /// SR-GNN keeps exactly SR-GNN's weights: the layout has no DANSeR slot.
    @Test func srgnnLayoutIsUnchanged() throws {
        let model = try Model(configuration: .srgnn, itemCount: 10, seed: 1)
        #expect(model.layout.slots.map(\.name) == [
            "embedding", "gnn.edge_in.weight", "gnn.edge_in.bias", "gnn.edge_out.weight", "gnn.edge_out.bias",
            "gnn.b_iah", "gnn.b_oah", "gnn.gate_input.weight", "gnn.gate_input.bias", "gnn.gate_hidden.weight",
            "gnn.gate_hidden.bias", "attention.last.weight", "attention.last.bias", "attention.item.weight",
            "attention.item.bias", "attention.query", "readout.transform.weight", "readout.transform.bias",
        ])
    }

    /// A target the model already ranks first has fewer hard negatives than one it ranks last.
    @Test func hardNegativesAdaptToTheRanking() throws {
        // Directly on scores: a clear winner versus a target lost in a crowd.
        let scores: [Float] = [9, 2, 1.5, 1.2, 1.1, 1.0, 0.9, 0.5]
        var scratch: [(index: Int32, score: Float)] = []
        let confident = scores.withUnsafeBufferPointer {
            NegativeSampling.hardNegatives($0.baseAddress!, count: 8, target: 0, candidates: 100, margin: 1, scratch: &scratch)
        }
        let confused = scores.withUnsafeBufferPointer {
            NegativeSampling.hardNegatives($0.baseAddress!, count: 8, target: 5, candidates: 100, margin: 1, scratch: &scratch)
        }
        #expect(confident == [1])  // at least the single highest
        #expect(confused.count == 7)
        #expect(!confused.contains(5))
        let capped = scores.withUnsafeBufferPointer {
            NegativeSampling.hardNegatives($0.baseAddress!, count: 8, target: 7, candidates: 3, margin: 1, scratch: &scratch)
        }
        #expect(capped == [0, 1, 2])
        // The top M of a long row, against a full sort.
        var generator = RandomSource(seed: 7)
        let row = (0..<5000).map { _ in generator.uniform(-3, 3) }
        let target = row.indices.sorted { row[$0] < row[$1] }[2500]
        let top = row.withUnsafeBufferPointer {
            NegativeSampling.hardNegatives($0.baseAddress!, count: 5000, target: target, candidates: 100, margin: 1, scratch: &scratch)
        }
        let expected = row.indices.filter { $0 != target }.sorted { row[$0] > row[$1] }.prefix(100)
        #expect(Set(top.map(Int.init)) == Set(expected))

        // Through the objective: the same session with its best-scored item as target, then its worst.
        var configuration = ModelConfiguration.allParts
        configuration.hiddenSize = 8
        configuration.negativeMargin = 2
        let model = try Model(configuration: configuration, itemCount: 30, seed: 4)
        let clicks: [Int32] = [3, 7, 3, 12]
        let probe = SessionBatch(prefixes: [clicks[...]], targets: [1])
        var scored = [Float](repeating: 0, count: 30)
        scored.withUnsafeMutableBufferPointer { model.scores(probe, table: model.scoringTable(), into: $0.baseAddress!) }
        let best = Int32(scored.indices.max { scored[$0] < scored[$1] }! + 1)
        let worst = Int32(scored.indices.min { scored[$0] < scored[$1] }! + 1)
        let batch = SessionBatch(prefixes: [clicks[...], clicks[...]], targets: [best, worst])
        var values = model.parameters
        var random = RandomSource(seed: 1)
        let objective = DANSeRObjective(network: model.network, configuration: configuration, threads: 1)
        let outcome = TinySetup.withAccess(&values) { p in
            var logits = [Float](repeating: 0, count: 2 * 30)
            return logits.withUnsafeMutableBufferPointer {
                objective.evaluate(batch, p, logits: $0.baseAddress!, dropoutMask: nil, random: &random, backward: false)
            }
        }.0
        #expect(outcome.negativeCounts[0] < outcome.negativeCounts[1])
        #expect(outcome.negativeCounts[1] == 29)
    }

    /// Evaluation, publication and training score with the same function: cosine and behaviour
    /// terms included.
    /// The vectorized selection picks exactly what a plain scan over the scores picks, in each of
    /// its three cases (the single best other, all within the margin, the top M of a crowd),
    /// for rows whose length is not a multiple of the vector width and targets at either end.
    @Test(arguments: [(37, 0, Float(0.05)), (1001, 1000, 0.05), (1003, 17, 2), (5000, 321, 0.5), (4999, 4998, 10)])
    func hardNegativesMatchAPlainScan(_ count: Int, _ target: Int, _ margin: Float) {
        func plain(_ scores: [Float], candidates: Int) -> [Int32] {
            let others = scores.indices.filter { $0 != target }
            let within = others.filter { scores[$0] >= scores[target] - margin }
            if within.isEmpty {
                var best = target == 0 ? 1 : 0
                for j in others where scores[j] > scores[best] { best = j }
                return [Int32(best)]
            }
            guard within.count > candidates else { return within.map(Int32.init) }
            let sorted = within.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            return sorted.prefix(candidates).map(Int32.init)
        }
        var generator = RandomSource(seed: UInt64(count))
        for spread: Float in [0.1, 1, 4] {
            // Rounded to a grid, so equal scores (ties on the index) occur.
            var scores = (0..<count).map { _ in (generator.uniform(-spread, spread) * 64).rounded() / 64 }
            // The target first by a clear gap, so the "single best other" case is reached too.
            if spread == 0.1 { scores[target] = 1 + margin }
            for candidates in [5, 100] {
                var scratch: [(index: Int32, score: Float)] = []
                let chosen = scores.withUnsafeBufferPointer {
                    NegativeSampling.hardNegatives(
                        $0.baseAddress!, count: count, target: target, candidates: candidates, margin: margin,
                        scratch: &scratch)
                }
                #expect(chosen == plain(scores, candidates: candidates), "count \(count), spread \(spread), M \(candidates)")
            }
        }
    }

    @Test func publishedScoresAreTheMeasuredOnes() throws {
        var configuration = ModelConfiguration.danser
        configuration.hiddenSize = 8
        var model = try Model(configuration: configuration, itemCount: 20, seed: 2)
        let sessions: [Session] = [[1, 2, 3, 2], [5, 3, 9, 9, 9], [6, 7, 1, 2, 20], [3, 4, 7]]
        try model.setBehaviourStatistics(BehaviourStatistics(training: sessions, itemCount: 20))
        let o = model.network.head.behaviour!.scalars.offset
        model.parameters[o] = 0.5
        model.parameters[o + 1] = 0.2
        model.parameters[o + 2] = 3
        let session: Session = [5, 3, 9, 9]
        var scores = [Float](repeating: 0, count: 20)
        let batch = SessionBatch(prefixes: [session[...]], targets: [0])
        scores.withUnsafeMutableBufferPointer { model.scores(batch, table: model.scoringTable(), into: $0.baseAddress!) }
        // Cosine scores lie in [-12, 12]; the adjustment is added on top.
        var plain = model
        plain.parameters[o] = 0
        plain.parameters[o + 1] = 0
        plain.parameters[o + 2] = 0
        var cosine = [Float](repeating: 0, count: 20)
        cosine.withUnsafeMutableBufferPointer { plain.scores(batch, table: plain.scoringTable(), into: $0.baseAddress!) }
        #expect(cosine.allSatisfy { abs($0) <= 12.001 })
        let statistics = BehaviourStatistics(training: sessions, itemCount: 20)
        let taste = Float(statistics.popularityTaste(of: session))
        for j in 1...20 {
            let repeats = Float(session.filter { $0 == j }.count)
            let expected = cosine[j - 1] + (0.5 + 0.2 * taste) * statistics.logPriors[j] + 3 * Float(log(1 + Double(repeats)))
            #expect(abs(scores[j - 1] - expected) < 1e-3, "item \(j)")
        }
        let recommender = Recommender(model: model)
        var top: [Recommendation] = []
        recommender.topK([session], k: 3) { _, results in top = results[0] }
        let ranked = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(3).map { Int32($0 + 1) }
        #expect(top.map(\.item) == ranked)
        // The evaluator ranks with the same scores.
        let examples = PrefixSet(sessions: [[5, 3, 9, 9, ranked[0]]])
        let result = Evaluator.evaluate(model, on: examples, indices: [0], cutoffs: [1])
        #expect(result.precision(at: 1) == 1)
    }

    /// Learned scalars and statistics travel in the checkpoint; a grown model marks its statistics unset.
    @Test func checkpointHoldsDANSeRParameters() throws {
        var configuration = ModelConfiguration.danser
        configuration.hiddenSize = 6
        var trainer = try Trainer(configuration: configuration, itemCount: 12, seed: 3)
        let sessions: [Session] = [[1, 2, 3, 2, 4], [5, 3, 9], [6, 7, 1, 2, 12], [3, 4, 7, 8, 10, 11]]
        let summary = try trainer.trainEpoch(on: PrefixSet(sessions: sessions))
        #expect(summary.meanLoss.isFinite)
        #expect(!trainer.model.needsBehaviourStatistics)
        #expect(trainer.model.behaviourScalars.values.contains { $0 != 0 })
        let decoded = try Checkpoint(decoding: Checkpoint(trainer).encoded()).makeModel()
        #expect(decoded.parameters == trainer.model.parameters)
        #expect(decoded.behaviourScalars == trainer.model.behaviourScalars)
        let published = BehaviourStatistics(training: sessions, itemCount: 12).withLearnedScalars(of: decoded)
        #expect(published.learnedScalars == trainer.model.behaviourScalars)
        let grown = try decoded.growing(toItemCount: 15, seed: 1)
        #expect(grown.needsBehaviourStatistics)
        #expect(grown.behaviourScalars == decoded.behaviourScalars)
    }
}

@Suite struct UniformNegativesTests {
    /// The ablation draws as many negatives as the adaptive set would hold, never the target.
    @Test func uniformNegativesMatchTheAdaptiveCount() throws {
        var configuration = ModelConfiguration.allParts
        configuration.hiddenSize = 8
        configuration.usesUniformNegatives = true
        let model = try Model(configuration: configuration, itemCount: 40, seed: 5)
        let batch = SessionBatch(prefixes: [[3, 7, 3, 12][...], [5][...]], targets: [9, 5])
        var adaptive = configuration
        adaptive.usesUniformNegatives = false
        var values = model.parameters
        func counts(_ c: ModelConfiguration) -> [Int] {
            var random = RandomSource(seed: 1)
            let objective = DANSeRObjective(network: model.network, configuration: c, threads: 1)
            return TinySetup.withAccess(&values) { p in
                var logits = [Float](repeating: 0, count: 2 * 40)
                return logits.withUnsafeMutableBufferPointer {
                    objective.evaluate(batch, p, logits: $0.baseAddress!, dropoutMask: nil, random: &random, backward: false)
                }
            }.0.negativeCounts
        }
        #expect(counts(configuration) == counts(adaptive))
        var random = RandomSource(seed: 2)
        let drawn = NegativeSampling.uniformNegatives(count: 10, target: 4, size: 9, random: &random)
        #expect(drawn == [0, 1, 2, 3, 5, 6, 7, 8, 9])
    }
}

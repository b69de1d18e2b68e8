import Testing
@testable import DANSeR

/// The trainer's DANSeR step (session network by parts, ds alone, blockwise table gradient
/// through the normalization and Adam, normalized table kept between steps) against the plain
/// reference, `DANSeRObjective.evaluate` with a dense table gradient and one dense Adam pass.
@Suite struct FusedDANSeRStepTests {
    static let itemCount = 1500

    /// Trains `steps` steps both ways from the same weights; returns the largest relative difference.
    static func compare(_ configuration: ModelConfiguration, steps: Int = 3) throws -> Float {
        var trainer = try Trainer(configuration: configuration, itemCount: itemCount, seed: 3, threads: 2)
        let sessions = Toy.sessions(count: 30, seed: 9).map { $0.map { $0 * 37 % Int32(itemCount) + 1 } }
        try trainer.model.setBehaviourStatistics(BehaviourStatistics(training: sessions, itemCount: itemCount))
        let examples = PrefixSet(sessions: sessions)
        let batch = SessionBatch(examples, indices: 0..<examples.count)
        var reference = trainer.model.parameters
        var optimizer = AdamState(parameterCount: reference.count)
        let network = trainer.model.network
        let objective = DANSeRObjective(network: network, configuration: configuration, threads: 2)
        for _ in 0..<steps {
            var random = RandomSource(seed: trainer.seed, stream: 4, epoch: optimizer.step)
            let mask = DANSeRObjective.dropoutMask(
                nodes: batch.nodeCount, hidden: configuration.hiddenSize, rate: configuration.dropout, random: &random)
            var gradients = [Float](repeating: 0, count: reference.count)
            var logits = [Float](repeating: 0, count: batch.count * itemCount)
            reference.withUnsafeMutableBufferPointer { v in
                gradients.withUnsafeMutableBufferPointer { g in
                    logits.withUnsafeMutableBufferPointer { l in
                        let p = ParameterAccess(values: v.baseAddress!, gradients: g.baseAddress!)
                        _ = objective.evaluate(batch, p, logits: l.baseAddress!, dropoutMask: mask, random: &random)
                        let step = optimizer.begin(learningRate: 1e-2, l2: configuration.l2)
                        optimizer.withMoments { m, mv in
                            AdamState.apply(
                                step, values: v.baseAddress!, gradients: g.baseAddress!, m: m, v: mv,
                                range: 0..<network.frozenStart)
                        }
                    }
                }
            }
            let loss = trainer.step(batch, learningRate: 1e-2)
            #expect(loss.isFinite)
        }
        #expect(trainer.optimizer.step == optimizer.step)
        return zip(trainer.model.parameters, reference).map { abs($0 - $1) / max(1e-3, abs($1)) }.max()!
    }

    static var small: ModelConfiguration {
        var c = ModelConfiguration.allParts
        c.hiddenSize = 6
        c.batchSize = 16
        // Every item a negative, so the selection cannot flip between the two summation orders.
        c.negativeCandidates = 2 * itemCount
        c.negativeMargin = 1e6
        return c
    }

    @Test func fullDANSeRMatchesReference() throws {
        let worst = try Self.compare(Self.small)
        #expect(worst < 1e-3, "largest relative difference \(worst)")
    }

    /// The preset, without SANS: the loss takes its one-pass path.
    @Test func thePresetMatchesReference() throws {
        var c = Self.small
        c.usesAdaptiveNegatives = false
        c.propagationSteps = 2
        c.cosineScale = 10
        #expect(c == { var d = ModelConfiguration.danser; d.hiddenSize = 6; d.batchSize = 16
            d.negativeCandidates = c.negativeCandidates; d.negativeMargin = c.negativeMargin; return d }())
        let worst = try Self.compare(c)
        #expect(worst < 1e-3, "largest relative difference \(worst)")
    }

    /// Behaviour and SANS without NISER: the table itself gets dL^T s plus the lookup rows.
    @Test func withoutNormalizationMatchesReference() throws {
        let worst = try Self.compare(Ablation.noVectorNormalization.applied(to: Self.small))
        #expect(worst < 1e-3, "largest relative difference \(worst)")
    }

    /// The session network by parts gives the whole batch's s and gradients. Exactly on most
    /// BLAS kernels; OpenBLAS's SSE3 fallback rounds row blocks of one product differently from
    /// the whole, hence the tolerance of float rounding.
    @Test func partsMatchTheWholeBatch() throws {
        let setup = try TinySetup(configuration: Self.small)
        var values = setup.model.parameters
        let network = setup.network
        let d = setup.model.configuration.hiddenSize
        let ds = TinySetup.projection(rows: setup.batch.count, cols: d, seed: 5)
        let (whole, wholeGradients) = TinySetup.withAccess(&values) { p in
            let pass = network.forward(setup.batch, p)
            network.backward(pass, sessionGradient: ds, batch: setup.batch, p)
            return pass.sessions.storage
        }
        let (parts, partGradients) = TinySetup.withAccess(&values) { p in
            let split = network.forward(setup.batch, p, threads: 2)
            #expect(split.batches.count == 2)
            let dh = network.initialStateGradients(split, sessionGradient: ds, p)
            network.addLookupGradients(dh, split, into: p.gradient(network.scorer.table))
            return split.sessions.storage
        }
        let sessionWorst = zip(parts, whole).map { abs($0 - $1) / max(1e-3, abs($1)) }.max()!
        #expect(sessionWorst < 1e-6, "largest relative difference of s \(sessionWorst)")
        let worst = zip(partGradients, wholeGradients).map { abs($0 - $1) / max(1e-3, abs($1)) }.max()!
        #expect(worst < 1e-4, "largest relative difference \(worst)")
    }
}

import Foundation
import Testing
@testable import DANSeR

/// The sampled softmax for large catalogues: its loss and gradient against a direct computation
/// with the logQ terms, the accidental-hit rule, the proposal and its sampler, and that the work
/// per prefix does not grow with the catalogue.
@Suite struct SampledSoftmaxTests {
    /// DANSeR with every part on, 10 items of which the batch touches 1...7 (8, 9, 10 untouched).
    static func setup() throws -> TinySetup {
        var configuration = ModelConfiguration.allParts
        configuration.hiddenSize = 4
        configuration.propagationSteps = 2
        // Every candidate within the margin, so the selection cannot flip under finite differences.
        configuration.negativeMargin = 1000
        let tiny = try TinySetup(hiddenSize: 4, itemCount: 10, configuration: configuration)
        var model = tiny.model
        let sessions: [Session] = [[1, 2, 3, 2, 4, 5], [5, 3], [6, 6, 7, 1, 2], [3, 4, 7, 8]]
        try model.setBehaviourStatistics(BehaviourStatistics(training: sessions, itemCount: model.itemCount))
        let o = model.network.head.behaviour!.scalars.offset
        model.parameters[o] = 0.4
        model.parameters[o + 1] = -0.3
        model.parameters[o + 2] = 0.7
        return TinySetup(model: model, batch: tiny.batch)
    }

    /// The batch's targets (5, 3, 2, 7) and two draws (1, 9), with hand-set log Q.
    static let candidates = SampledCandidates(
        items: [5, 3, 2, 7, 1, 9], targetColumns: [0, 1, 2, 3], logQ: [-1.2, -0.7, -2.0, -1.5, -0.3, -2.5])

    /// l' of every item for every row (B x N), the plain way: the whole table normalized, every item scored.
    static func allScores(_ setup: TinySetup, _ values: inout [Float]) -> [Float] {
        let network = setup.network
        let batch = setup.batch
        let n = setup.model.itemCount
        return TinySetup.withAccess(&values) { p in
            let head = network.head
            let table = head.normalizedTable(p)
            let split = table.map { t in
                t.values.withUnsafeBufferPointer { network.forward(batch, p, lookupTable: $0.baseAddress!, threads: 1) }
            } ?? network.forward(batch, p, threads: 1)
            var logits = [Float](repeating: 0, count: batch.count * n)
            logits.withUnsafeMutableBufferPointer { l in
                _ = head.forward(split.sessions, batch: batch, p, table: table, into: l.baseAddress!)
            }
            return logits
        }.0
    }

    /// The batch-mean objective written out: cross-entropy over the candidates of l' - log Q, plus
    /// lambda times the hard loss over the target and every other candidate (all within the margin).
    static func reference(_ setup: TinySetup, _ values: inout [Float]) -> Double {
        let scores = allScores(setup, &values)
        let n = setup.model.itemCount
        let lambda = Double(setup.model.configuration.negativeLossWeight)
        let c = candidates
        var total = 0.0
        for row in 0..<setup.batch.count {
            let l = c.items.map { Double(scores[row * n + Int($0) - 1]) }
            let z = zip(l, c.logQ).map { $0 - Double($1) }
            let t = c.targetColumns[row]
            total += log(z.map { exp($0) }.reduce(0, +)) - z[t]
            total += lambda * (log(l.map { exp($0) }.reduce(0, +)) - l[t])
        }
        return total / Double(setup.batch.count)
    }

    static func sampled(_ setup: TinySetup, _ values: inout [Float]) -> (SampledObjective.Outcome, [Float]) {
        let objective = SampledObjective(network: setup.network, configuration: setup.model.configuration, threads: 2)
        return TinySetup.withAccess(&values) { p in
            let table = setup.network.head.normalizedTable(p)
            var random = RandomSource(seed: 1)
            var timings = PhaseTimings()
            return objective.evaluate(
                setup.batch, p, table: table, candidates: candidates, dropoutMask: nil, random: &random, timings: &timings)
        }
    }

    @Test func lossAndGradientMatchTheDirectComputation() throws {
        let setup = try Self.setup()
        var values = setup.model.parameters
        let (outcome, grads) = Self.sampled(setup, &values)
        let expected = Self.reference(setup, &values)
        #expect(abs(outcome.loss / Double(setup.batch.count) - expected) < 1e-4 * max(1, abs(expected)))
        // Every row's hard negatives are all the other candidates: its target is never one of them.
        #expect(outcome.negativeCounts == [5, 5, 5, 5])
        // Touched: the candidates and the batch's own items; 8 and 10 are neither.
        #expect(outcome.touchedRows == [1, 2, 3, 4, 5, 6, 7, 9])
        let trainable = 0..<setup.network.frozenStart
        let mismatch = GradientCheck().firstMismatch(values: &values, analytic: grads, indices: trainable) { v in
            var v = v
            return Self.reference(setup, &v)
        }
        #expect(mismatch == nil)
        // The untouched rows get no gradient (and the reference has none there either).
        let d = setup.model.configuration.hiddenSize
        for row in [8, 10] { #expect(grads[(row * d)..<((row + 1) * d)].allSatisfy { $0 == 0 }) }
        #expect(grads[(9 * d)..<(10 * d)].contains { $0 != 0 })
    }

    /// The logQ terms matter: dropping them changes the loss by exactly what they contribute.
    @Test func logQShiftsTheLoss() throws {
        let setup = try Self.setup()
        var values = setup.model.parameters
        let corrected = Self.sampled(setup, &values).0.loss
        let saved = Self.candidates
        let plain = SampledCandidates(items: saved.items, targetColumns: saved.targetColumns, logQ: saved.logQ.map { _ in 0 })
        let objective = SampledObjective(network: setup.network, configuration: setup.model.configuration, threads: 1)
        let uncorrected = TinySetup.withAccess(&values) { p in
            var random = RandomSource(seed: 1)
            var timings = PhaseTimings()
            return objective.evaluate(
                setup.batch, p, table: setup.network.head.normalizedTable(p), candidates: plain, dropoutMask: nil,
                random: &random, timings: &timings, backward: false).loss
        }.0
        #expect(abs(corrected - uncorrected) > 0.1)
    }

    /// A draw of an item already among the candidates, a row's own target above all, adds no
    /// column: the row's target is in one column, never among its negatives.
    @Test func accidentalHitsAreMasked() {
        // Item 2 takes nearly all the popularity mass: most draws hit it.
        let counts = [0, 1, 10_000, 1, 1, 1, 1]
        let proposal = CandidateProposal(targetCounts: counts, exponent: 1)
        var random = RandomSource(seed: 5)
        let candidates = SampledCandidates(targets: [2, 5, 2, 3], proposal: proposal, draws: 50, random: &random)
        #expect(Set(candidates.items).count == candidates.count)
        #expect(candidates.items.filter { $0 == 2 }.count == 1)
        #expect(candidates.targetColumns == [0, 1, 0, 2])
        for (row, target) in [Int32(2), 5, 2, 3].enumerated() {
            #expect(candidates.items[candidates.targetColumns[row]] == target)
        }
        #expect(candidates.count <= 4 + 50)
    }

    /// The accidental-hit rule in the loss: with a draw of the row's target, the loss is that of
    /// the candidates without the duplicate.
    @Test func aDrawOfTheTargetAddsNoNegative() throws {
        let setup = try Self.setup()
        var values = setup.model.parameters
        // Draws 5 (row 0's target) and 3 (row 1's): the candidate set is the batch's targets only.
        let proposal = CandidateProposal(targetCounts: [0, 0, 0, 10_000_000, 0, 10_000_000, 0, 0, 0, 0, 0], exponent: 1)
        var random = RandomSource(seed: 2)
        let drawn = SampledCandidates(targets: setup.batch.targets, proposal: proposal, draws: 40, random: &random)
        #expect(drawn.items == [5, 3, 2, 7])
        let objective = SampledObjective(network: setup.network, configuration: setup.model.configuration, threads: 1)
        let outcome = TinySetup.withAccess(&values) { p in
            var timings = PhaseTimings()
            return objective.evaluate(
                setup.batch, p, table: setup.network.head.normalizedTable(p), candidates: drawn, dropoutMask: nil,
                random: &random, timings: &timings, backward: false)
        }.0
        #expect(outcome.negativeCounts == [3, 3, 3, 3])
    }

    /// p_j and q_j from the target counts, and log Q_j = log(1 - (1 - p_j)^B (1 - q_j)^S), which
    /// a simulation of the mixed proposal (B targets drawn from p, S draws from q) reproduces.
    @Test func inclusionProbabilityOfTheMixedProposal() {
        let counts = [0, 30, 10, 0, 60, 100]
        let proposal = CandidateProposal(targetCounts: counts, exponent: 0.75)
        #expect(abs(proposal.targetShare[1] - 0.15) < 1e-12)
        #expect(proposal.targetShare[3] == 0)
        let weights = counts.dropFirst().map { pow(Double($0) + 1, 0.75) }
        let sum = weights.reduce(0, +)
        for j in 1...5 { #expect(abs(proposal.popularity[j] - weights[j - 1] / sum) < 1e-12) }
        let (rows, draws) = (3, 2)
        for j in 1...5 {
            let p = proposal.targetShare[j]
            let q = proposal.popularity[j]
            let expected = log(1 - pow(1 - p, Double(rows)) * pow(1 - q, Double(draws)))
            #expect(abs(Double(proposal.logInclusion(j, rows: rows, draws: draws)) - expected) < 1e-5)
        }
        // Simulate: the B targets from p (an alias table over the counts), the S draws from q.
        let targets = AliasTable(weights: counts.dropFirst().map(Double.init))
        var random = RandomSource(seed: 11)
        var included = [Int](repeating: 0, count: 6)
        let trials = 40_000
        for _ in 0..<trials {
            let batch = (0..<rows).map { _ in Int32(targets.draw(using: &random) + 1) }
            let candidates = SampledCandidates(targets: batch, proposal: proposal, draws: draws, random: &random)
            for item in candidates.items { included[Int(item)] += 1 }
        }
        for j in 1...5 {
            let expected = Double(exp(proposal.logInclusion(j, rows: rows, draws: draws)))
            #expect(abs(Double(included[j]) / Double(trials) - expected) < 0.01, "item \(j)")
        }
    }

    @Test func aliasTableDrawsTheDistribution() {
        let weights: [Double] = [1, 0, 2, 3, 4, 0.5]
        let table = AliasTable(weights: weights)
        var random = RandomSource(seed: 3)
        var counts = [Int](repeating: 0, count: weights.count)
        let draws = 200_000
        for _ in 0..<draws { counts[table.draw(using: &random)] += 1 }
        let total = weights.reduce(0, +)
        for (i, w) in weights.enumerated() {
            #expect(abs(Double(counts[i]) / Double(draws) - w / total) < 0.005, "outcome \(i)")
        }
        #expect(counts[1] == 0)
    }

    /// Candidates per prefix and table rows updated per step stay bounded by B + S (+ the
    /// batch's own items) at 500 and at 50,000 items; the full softmax scores all N.
    @Test func workPerPrefixDoesNotGrowWithTheCatalogue() throws {
        var configuration = ModelConfiguration.danser
        configuration.hiddenSize = 8
        configuration.batchSize = 10
        var sessions: [Session] = []
        for s in 0..<30 {
            var session: Session = []
            for click in 0..<5 { session.append(Int32(1 + (s * 7 + click * 3) % 100)) }
            sessions.append(session)
        }
        let examples = PrefixSet(sessions: sessions)
        let negatives = 64
        var perPrefix: [Double] = []
        for itemCount in [500, 50_000] {
            var trainer = try Trainer(configuration: configuration, itemCount: itemCount, seed: 1, threads: 1)
            trainer.sampling = SampledSoftmax(negatives: negatives)
            let summary = try trainer.trainEpoch(on: examples)
            #expect(summary.meanLoss.isFinite)
            let t = trainer.timings
            #expect(t.scoredRows == examples.count)
            perPrefix.append(Double(t.scoredColumns) / Double(t.scoredRows))
            let steps = (examples.count + 9) / 10
            // Per step: at most B + S candidates plus the batch's own items (5 clicks a prefix at most).
            #expect(t.updatedTableRows <= steps * (10 + negatives + 10 * 5))
        }
        #expect(perPrefix.allSatisfy { $0 <= Double(10 + negatives) })
        var full = try Trainer(configuration: configuration, itemCount: 500, seed: 1, threads: 1)
        _ = try full.trainEpoch(on: examples)
        #expect(full.timings.scoredColumns == examples.count * 500)
    }

    /// Sampled training learns: on a small log of fixed habits the loss falls over epochs.
    @Test func sampledTrainingLearns() throws {
        var configuration = ModelConfiguration.danser
        configuration.hiddenSize = 16
        configuration.batchSize = 20
        configuration.learningRate = 5e-3
        var sessions: [Session] = []
        for s in 0..<200 {
            let start = Int32(1 + (s % 40) * 5)
            sessions.append([start, start + 1, start + 2, start + 3])
        }
        var trainer = try Trainer(configuration: configuration, itemCount: 300, seed: 2, threads: 1)
        trainer.sampling = SampledSoftmax(negatives: 32)
        let examples = PrefixSet(sessions: sessions)
        let first = try trainer.trainEpoch(on: examples).meanLoss
        _ = try trainer.trainEpoch(on: examples)
        let third = try trainer.trainEpoch(on: examples).meanLoss
        #expect(third < 0.8 * first)
    }

    @Test func settingsAreChecked() {
        #expect(throws: DANSeRError.self) { try SampledSoftmax(negatives: 0).validate() }
        #expect(throws: DANSeRError.self) { try SampledSoftmax(negatives: 10, exponent: 2).validate() }
        #expect(SampledSoftmax.forCatalogue(itemCount: 100, threshold: 100, negatives: 5) == nil)
        #expect(SampledSoftmax.forCatalogue(itemCount: 101, threshold: 100, negatives: 5)?.negatives == 5)
    }
}

/// The sparse update of the sampled step: rows that no batch touched keep their weights exactly,
/// and the normalized table kept between steps (NISER) is that of the updated weights.
@Suite struct SampledStepTests {
    @Test func untouchedRowsStayAndTheKeptTableIsCurrent() throws {
        var configuration = ModelConfiguration.danser
        configuration.hiddenSize = 8
        configuration.batchSize = 4
        // Items 1...20 are clicked; 21...60 never are, and with one draw per batch few are drawn.
        var sessions: [Session] = []
        for s in 0..<12 { sessions.append([Int32(1 + s % 20), Int32(1 + (s + 3) % 20), Int32(1 + (s + 7) % 20)]) }
        var trainer = try Trainer(configuration: configuration, itemCount: 60, seed: 4, threads: 1)
        trainer.sampling = SampledSoftmax(negatives: 1)
        let before = trainer.model.parameters
        _ = try trainer.trainEpoch(on: PrefixSet(sessions: sessions))
        let d = configuration.hiddenSize
        let after = trainer.model.parameters
        var untouched = 0
        var changed = 0
        for row in 21...60 {
            if before[(row * d)..<((row + 1) * d)] == after[(row * d)..<((row + 1) * d)] { untouched += 1 } else { changed += 1 }
        }
        // 24 prefixes, 6 steps, each drawing one item: at most 6 of the unclicked rows moved.
        #expect(changed <= 6 && untouched >= 34)
        #expect(before[(1 * d)..<(2 * d)] != after[(1 * d)..<(2 * d)])
        var values = trainer.model.parameters
        let fresh = TinySetup.withAccess(&values) { trainer.model.network.head.normalizedTable($0) }.0!
        let kept = try #require(trainer.normalized)
        #expect(trainer.normalizedStep == trainer.optimizer.step)
        #expect(zip(kept.values, fresh.values).allSatisfy { abs($0 - $1) < 1e-6 })
    }
}

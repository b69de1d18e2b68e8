internal import Foundation

/// Sampled softmax for large catalogues. The full softmax scores every item for every training
/// prefix (about 6 d N FLOP each); above a catalogue size the trainer instead scores, per batch,
/// a few candidates shared by the batch's rows:
/// - in-batch: the batch's own targets (each row's target is a negative for the other rows);
/// - popularity-sampled: S draws from q_j proportional to (c_j + 1)^alpha, c_j the item's count
///   as a training target and alpha 0.75 (an alias table, O(1) a draw);
/// - each item is one column: a draw of an item already there, such as a row's own target (an
///   accidental hit), adds no column, so a row's target is never also one of its negatives.
/// Every logit gets the logQ correction l'_j - log Q_j, with Q_j the probability that item j is
/// among the candidates under the mixed proposal, taking the B targets as draws from the target
/// distribution p_j and the S draws from q_j:  Q_j = 1 - (1 - p_j)^B (1 - q_j)^S.
/// SANS picks its hard negatives among the candidates (on the detached, uncorrected l'), and
/// only the candidates' and the batch's own rows of the table get a gradient and an Adam update,
/// so the cost per prefix no longer grows with N.
public struct SampledSoftmax: Sendable, Hashable {
    /// S, popularity-sampled negatives per batch. Default `defaultNegatives`.
    public var negatives: Int
    /// alpha of the popularity proposal. Default 0.75.
    public var exponent: Double

    /// Popularity-sampled negatives per batch when not set: see docs/SCALING.md, "Sampled training".
    public static let defaultNegatives = 2_000
    /// Catalogues of more than this many items train with the sampled softmax when not set:
    /// see docs/SCALING.md, "Sampled training", for how it was chosen.
    public static let defaultThreshold = 50_000
    /// The most negatives a batch may draw.
    public static let maximumNegatives = 1_000_000

    public init(negatives: Int = defaultNegatives, exponent: Double = 0.75) {
        self.negatives = negatives
        self.exponent = exponent
    }

    /// The settings for a catalogue of `itemCount` items: sampled when it has more than
    /// `threshold` items, else nil (the full softmax).
    public static func forCatalogue(itemCount: Int, threshold: Int, negatives: Int) -> SampledSoftmax? {
        itemCount > threshold ? SampledSoftmax(negatives: negatives) : nil
    }

    public func validate() throws(DANSeRError) {
        guard (1...Self.maximumNegatives).contains(negatives) else {
            throw DANSeRError(.invalidConfiguration,
                "sampled negatives must be between 1 and \(Self.maximumNegatives) (got \(negatives))")
        }
        guard exponent >= 0, exponent <= 1 else {
            throw DANSeRError(.invalidConfiguration, "the sampling exponent must be in [0, 1] (got \(exponent))")
        }
    }
}

/// Draws from a fixed discrete distribution in O(1) (Vose's alias method).
struct AliasTable: Sendable {
    /// For bucket i: the chance of keeping i (else its alias).
    let keep: [Double]
    let alias: [Int32]

    /// A table for outcomes 0..<weights.count with chances proportional to `weights` (>= 0,
    /// not all zero).
    init(weights: [Double]) {
        let n = weights.count
        let total = weights.reduce(0, +)
        precondition(n > 0 && total > 0, "an alias table needs a positive weight")
        var scaled = weights.map { $0 * Double(n) / total }
        var keep = [Double](repeating: 1, count: n)
        var alias = [Int32](repeating: 0, count: n)
        var small: [Int32] = []
        var large: [Int32] = []
        for (i, w) in scaled.enumerated() {
            alias[i] = Int32(i)
            if w < 1 { small.append(Int32(i)) } else { large.append(Int32(i)) }
        }
        while let s = small.last, let l = large.last {
            small.removeLast()
            large.removeLast()
            keep[Int(s)] = scaled[Int(s)]
            alias[Int(s)] = l
            scaled[Int(l)] += scaled[Int(s)] - 1
            if scaled[Int(l)] < 1 { small.append(l) } else { large.append(l) }
        }
        // Whatever is left holds 1 up to rounding: it keeps itself.
        self.keep = keep
        self.alias = alias
    }

    var count: Int { keep.count }

    func draw(using random: inout RandomSource) -> Int {
        let u = Double(random.next() >> 11) * 0x1p-53 * Double(count)
        let bucket = min(Int(u), count - 1)
        return u - Double(bucket) < keep[bucket] ? bucket : Int(alias[bucket])
    }
}

/// The proposal of one epoch: the target distribution p_j of the training prefixes (what the
/// in-batch candidates are drawn from) and the popularity distribution q_j of the sampled ones.
struct CandidateProposal: Sendable {
    /// p_j for items j = 1...N (index 0 unused).
    let targetShare: [Double]
    /// q_j for items j = 1...N (index 0 unused).
    let popularity: [Double]
    /// Over items: outcome i is item i + 1.
    let sampler: AliasTable

    /// From each item's count as a training target (`targetCounts[j]`, j = 0...N, index 0 unused).
    init(targetCounts: [Int], exponent: Double) {
        let n = targetCounts.count - 1
        precondition(n >= 1, "a proposal needs an item")
        let total = Double(max(1, targetCounts.dropFirst().reduce(0, +)))
        targetShare = [0] + targetCounts.dropFirst().map { Double($0) / total }
        let weights = targetCounts.dropFirst().map { pow(Double($0) + 1, exponent) }
        let sum = weights.reduce(0, +)
        popularity = [0] + weights.map { $0 / sum }
        sampler = AliasTable(weights: weights)
    }

    /// The proposal for training on `examples` over `itemCount` items.
    init(examples: PrefixSet, itemCount: Int, exponent: Double) {
        var counts = [Int](repeating: 0, count: itemCount + 1)
        for i in 0..<examples.count {
            let target = Int(examples.target(i))
            if target >= 1 && target <= itemCount { counts[target] += 1 }
        }
        self.init(targetCounts: counts, exponent: exponent)
    }

    var itemCount: Int { targetShare.count - 1 }

    /// log Q_j = log(1 - (1 - p_j)^rows (1 - q_j)^draws): the log-probability that item j is
    /// among the candidates of a batch of `rows` targets and `draws` popularity draws.
    func logInclusion(_ item: Int, rows: Int, draws: Int) -> Float {
        let logMissed = Double(rows) * log1p(-min(targetShare[item], 1)) + Double(draws) * log1p(-min(popularity[item], 1))
        return Float(log(-expm1(logMissed)))
    }
}

/// The candidate columns of one batch.
struct SampledCandidates: Sendable {
    /// The item of each column, each item once: the batch's targets first, then the draws.
    var items: [Int32]
    /// Per row: the column of its target.
    var targetColumns: [Int]
    /// Per column: log Q of its item, subtracted from its logit in the cross-entropy.
    var logQ: [Float]

    init(items: [Int32], targetColumns: [Int], logQ: [Float]) {
        self.items = items
        self.targetColumns = targetColumns
        self.logQ = logQ
    }

    /// The batch's targets and `draws` popularity draws from `proposal`.
    init(targets: [Int32], proposal: CandidateProposal, draws: Int, random: inout RandomSource) {
        var column: [Int32: Int] = [:]
        var items: [Int32] = []
        items.reserveCapacity(targets.count + draws)
        column.reserveCapacity(targets.count + draws)
        func add(_ item: Int32) -> Int {
            if let existing = column[item] { return existing }
            column[item] = items.count
            items.append(item)
            return items.count - 1
        }
        targetColumns = targets.map { add($0) }
        for _ in 0..<draws { _ = add(Int32(proposal.sampler.draw(using: &random) + 1)) }
        self.items = items
        logQ = items.map { proposal.logInclusion(Int($0), rows: targets.count, draws: draws) }
    }

    var count: Int { items.count }
}

/// The training objective over the candidates of a batch (see `SampledSoftmax`):
///   L = CE(softmax over the candidates of l' - log Q, target) + lambda * L_hard(SANS among them).
/// `evaluate` leaves in `p`'s gradients the gradient of the batch-mean objective for every weight
/// but the table, and for the table only on the rows it returns (the candidates and the batch's
/// own items), already taken back through the normalization under NISER; no other table row is
/// read or written.
struct SampledObjective {
    let network: SessionNetwork
    let configuration: ModelConfiguration
    let threads: Int

    struct Outcome {
        /// Summed (not mean) loss over the batch's rows.
        var loss: Double
        /// Hard (or uniform) negatives per row.
        var negativeCounts: [Int]
        /// Table rows with a gradient, ascending.
        var touchedRows: [Int32]
    }

    /// `table` is the normalized table under NISER (current for the weights in `p`), else nil.
    func evaluate(
        _ batch: SessionBatch, _ p: ParameterAccess, table: ScoringHead.NormalizedTable?, candidates: SampledCandidates,
        dropoutMask: [Float]?, random: inout RandomSource, timings: inout PhaseTimings, backward: Bool = true
    ) -> Outcome {
        let head = network.head
        let slot = network.scorer.table
        let d = slot.cols
        let rows = batch.count
        let columns = candidates.count
        var clock = PhaseTimings.now()
        let split = network.forward(batch, p, normalizedTable: table, dropoutMask: dropoutMask, threads: threads)
        timings.sessionForward += PhaseTimings.lap(&clock)
        let (scored, sessionNorms) = head.scoredSessions(split.sessions)
        // The candidates' rows of the table the scores use.
        var gathered = Matrix(rows: columns, cols: d)
        func withScoringTable<R>(_ body: (UnsafePointer<Float>) -> R) -> R {
            guard let table else { return body(p.value(slot)) }
            return table.values.withUnsafeBufferPointer { body($0.baseAddress!) }
        }
        withScoringTable { e in
            for (column, item) in candidates.items.enumerated() {
                let source = e + Int(item) &* d
                for col in 0..<d { gathered.storage[column &* d &+ col] = source[col] }
            }
        }
        var logits = Matrix(rows: rows, cols: columns)
        scored.storage.withUnsafeBufferPointer { sp in
            gathered.storage.withUnsafeBufferPointer { gp in
                logits.storage.withUnsafeMutableBufferPointer { lp in
                    BLAS.gemm(
                        transposeA: false, transposeB: true, m: rows, n: columns, k: d, a: sp.baseAddress!, lda: d,
                        b: gp.baseAddress!, ldb: d, c: lp.baseAddress!, ldc: columns)
                }
            }
        }
        // Behaviour normalization on the candidates: (b0 + b1 tau_s) pi_j + rho log(1 + r_j(s)).
        let (tastes, repeats) = head.behaviourTerms(batch, p)
        var columnOf: [Int32: Int] = [:]
        for (column, item) in candidates.items.enumerated() { columnOf[item] = column }
        // Per row: (candidate column, log(1 + r_j(s))) for the session's items among the candidates.
        let repeatColumns = repeats.map { row in
            row.compactMap { entry in columnOf[Int32(entry.column + 1)].map { (column: $0, value: entry.value) } }
        }
        var candidatePriors = [Float](repeating: 0, count: columns)
        if let behaviour = head.behaviour {
            let scalars = p.value(behaviour.scalars)
            let priors = p.value(behaviour.logPriors)
            for (column, item) in candidates.items.enumerated() { candidatePriors[column] = priors[Int(item)] }
            for row in 0..<rows {
                let weight = scalars[0] + scalars[1] * tastes[row]
                for column in 0..<columns { logits.storage[row &* columns &+ column] += weight * candidatePriors[column] }
                for (column, value) in repeatColumns[row] { logits.storage[row &* columns &+ column] += scalars[2] * value }
            }
        }
        timings.scoring += PhaseTimings.lap(&clock)
        // SANS among the candidates, on the detached scores.
        var negatives: [[Int32]] = []
        var gatheredScores: [[Float]] = []
        if configuration.usesAdaptiveNegatives || configuration.usesUniformNegatives {
            var scratch: [(index: Int32, score: Float)] = []
            logits.storage.withUnsafeBufferPointer { lp in
                for row in 0..<rows {
                    let scores = lp.baseAddress! + row &* columns
                    let target = candidates.targetColumns[row]
                    var chosen = NegativeSampling.hardNegatives(
                        scores, count: columns, target: target, candidates: configuration.negativeCandidates,
                        margin: configuration.negativeMargin, scratch: &scratch)
                    if configuration.usesUniformNegatives {
                        chosen = NegativeSampling.uniformNegatives(
                            count: columns, target: target, size: chosen.count, random: &random)
                    }
                    negatives.append(chosen)
                    gatheredScores.append([scores[target]] + chosen.map { scores[Int($0)] })
                }
            }
        }
        // Cross-entropy over the candidates with the logQ correction; logits become dL/dl'.
        var loss = 0.0
        let invRows = 1 / Float(rows)
        var corrected = [Float](repeating: 0, count: columns)
        for row in 0..<rows {
            let base = row &* columns
            let target = candidates.targetColumns[row]
            for column in 0..<columns { corrected[column] = logits.storage[base &+ column] - candidates.logQ[column] }
            let shift = corrected.max() ?? 0
            var sum: Float = 0
            for column in 0..<columns {
                corrected[column] = VectorMath.exp(corrected[column] - shift)
                sum += corrected[column]
            }
            loss += Double(logf(sum) + shift - (logits.storage[base &+ target] - candidates.logQ[target]))
            for column in 0..<columns { logits.storage[base &+ column] = invRows * corrected[column] / sum }
            logits.storage[base &+ target] -= invRows
        }
        if !negatives.isEmpty {
            let targets = candidates.targetColumns
            loss += logits.storage.withUnsafeMutableBufferPointer { lp in
                NegativeSampling.addHardLoss(
                    scores: gatheredScores, columns: negatives, targets: targets,
                    weight: configuration.negativeLossWeight, rows: rows, width: columns, gradient: lp.baseAddress!)
            }
        }
        timings.loss += PhaseTimings.lap(&clock)
        timings.scoredColumns += rows * columns
        var touched = Set(candidates.items)
        touched.formUnion(batch.nodeItems)
        let touchedRows = touched.sorted()
        var outcome = Outcome(loss: loss, negativeCounts: negatives.map(\.count), touchedRows: touchedRows)
        guard backward, loss.isFinite else { return outcome }
        let dl = logits
        if let behaviour = head.behaviour {
            let grad = p.gradient(behaviour.scalars)
            for row in 0..<rows {
                var popularity: Float = 0
                for column in 0..<columns { popularity += dl.storage[row &* columns &+ column] * candidatePriors[column] }
                grad[0] += popularity
                grad[1] += tastes[row] * popularity
                for (column, value) in repeatColumns[row] { grad[2] += dl.storage[row &* columns &+ column] * value }
            }
        }
        // d(scored) = dL (B x C) G (C x d); dG = dL^T (C x B) scored (B x d).
        var dScored = Matrix(rows: rows, cols: d)
        var dGathered = Matrix(rows: columns, cols: d)
        dl.storage.withUnsafeBufferPointer { lp in
            gathered.storage.withUnsafeBufferPointer { gp in
                scored.storage.withUnsafeBufferPointer { sp in
                    dScored.storage.withUnsafeMutableBufferPointer { out in
                        BLAS.gemm(
                            transposeA: false, transposeB: false, m: rows, n: d, k: columns, a: lp.baseAddress!,
                            lda: columns, b: gp.baseAddress!, ldb: d, c: out.baseAddress!, ldc: d)
                    }
                    dGathered.storage.withUnsafeMutableBufferPointer { out in
                        BLAS.gemm(
                            transposeA: true, transposeB: false, m: columns, n: d, k: rows, a: lp.baseAddress!,
                            lda: columns, b: sp.baseAddress!, ldb: d, c: out.baseAddress!, ldc: d)
                    }
                }
            }
        }
        timings.scoringBackward += PhaseTimings.lap(&clock)
        let ds = head.sessionGradient(scoredGradient: dScored, scored: scored, sessionNorms: sessionNorms)
        let dh = network.initialStateGradients(split, sessionGradient: ds, p)
        // dL/d(scoring table) on the touched rows: the lookups', then the candidates'.
        let tableGradient = p.gradient(slot)
        network.addLookupGradients(dh, split, into: tableGradient)
        for (column, item) in candidates.items.enumerated() {
            let target = tableGradient + Int(item) &* d
            for col in 0..<d { target[col] += dGathered.storage[column &* d &+ col] }
        }
        if let table {
            // Back through e^ = E / |E|, row by row, in place.
            let values = UnsafePointer(p.value(slot))
            table.withRows(hidden: d) { view in
                for row in touchedRows {
                    view.tangentGradient(rows: Int(row)..<(Int(row) + 1), gradient: tableGradient, table: values)
                }
            }
        }
        timings.sessionBackward += PhaseTimings.lap(&clock)
        outcome.touchedRows = touchedRows
        return outcome
    }
}

extension Trainer {
    /// One optimizer step with the sampled softmax: `SampledObjective` over this batch's
    /// candidates, Adam on every weight but the table and on the touched rows of the table only
    /// (their gradient rows re-zeroed), and under NISER those rows of the kept normalized table
    /// rewritten. No step reads or writes the rest of the table.
    mutating func sampledStep(
        _ batch: SessionBatch, learningRate: Float, sampling: SampledSoftmax, proposal: CandidateProposal
    ) -> Double {
        let network = model.network
        let head = network.head
        var configuration = model.configuration
        configuration.negativeLossWeight = configuration.negativeLossWeight(atEpoch: epochProgress)
        var optimizer = takeOptimizer()
        var timings = self.timings
        // The same dropout stream as the full step; the candidates' draws have their own.
        var random = RandomSource(seed: seed, stream: 4, epoch: optimizer.step)
        let mask = DANSeRObjective.dropoutMask(
            nodes: batch.nodeCount, hidden: configuration.hiddenSize, rate: dropoutOverride ?? configuration.dropout, random: &random)
        var draws = RandomSource(seed: seed, stream: 5, epoch: optimizer.step)
        let candidates = SampledCandidates(
            targets: batch.targets, proposal: proposal, draws: sampling.negatives, random: &draws)
        let objective = SampledObjective(network: network, configuration: configuration, threads: threads)
        let slot = network.scorer.table
        let d = slot.cols
        let current = normalizedStep == optimizer.step
        var table = takeNormalizedTable()
        let threads = threads
        var loss = 0.0
        model.parameters.withUnsafeMutableBufferPointer { values in
            gradients.withUnsafeMutableBufferPointer { grads in
                let p = ParameterAccess(values: values.baseAddress!, gradients: grads.baseAddress!)
                // Table gradient rows stay zero between steps (the touched ones are re-zeroed below).
                let rest = slot.offset + slot.count
                (grads.baseAddress! + rest).update(repeating: 0, count: network.frozenStart - rest)
                var clock = PhaseTimings.now()
                // Whole-table normalization only when the kept table is stale (the first step).
                if !current, table != nil { head.normalize(p, into: &table!, threads: threads) }
                timings.sessionForward += PhaseTimings.lap(&clock)
                let outcome = objective.evaluate(
                    batch, p, table: table, candidates: candidates, dropoutMask: mask, random: &random,
                    timings: &timings)
                loss = outcome.loss
                guard loss.isFinite else { return }
                clock = PhaseTimings.now()
                let step = optimizer.begin(learningRate: learningRate, l2: configuration.l2)
                optimizer.withMoments { m, v in
                    AdamState.apply(
                        step, values: values.baseAddress!, gradients: grads.baseAddress!, m: m, v: v,
                        range: rest..<network.frozenStart)
                    for row in outcome.touchedRows {
                        let lower = slot.offset + Int(row) &* d
                        AdamState.apply(
                            step, values: values.baseAddress!, gradients: grads.baseAddress!, m: m, v: v,
                            range: lower..<(lower + d))
                        (grads.baseAddress! + lower).update(repeating: 0, count: d)
                    }
                }
                if table != nil {
                    let e = UnsafePointer(p.value(slot))
                    table!.withMutableRows(hidden: d) { view in
                        for row in outcome.touchedRows { view.normalize(rows: Int(row)..<(Int(row) + 1), of: e) }
                    }
                }
                timings.optimizer += PhaseTimings.lap(&clock)
                timings.scoredRows += batch.count
                timings.updatedTableRows += outcome.touchedRows.count
            }
        }
        self.optimizer = optimizer
        self.timings = timings
        normalized = table
        normalizedStep = optimizer.step
        return loss
    }
}

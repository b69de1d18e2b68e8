/// The training objective with DANSeR's switches (MODEL.md section 7):
///   L = CE(softmax over all items of l', target) + lambda * L_hard,
/// `forwardAndLoss` is shared by the trainer's fused step and `evaluate`, the plain reference
/// with a dense gradient of the whole table that the gradient tests check.
struct DANSeRObjective {
    let network: SessionNetwork
    let configuration: ModelConfiguration
    let threads: Int

    /// What one evaluation of the objective produced.
    struct Outcome {
        /// Summed (not mean) loss over the batch's rows.
        var loss: Double
        /// Hard (or uniform) negatives per row.
        var negativeCounts: [Int]
        /// Seconds per phase, for the trainer's report.
        var timings = PhaseTimings()
    }

    /// The forward pass and the loss; the logits buffer then holds dL/dl'.
    struct Forward {
        var loss: Double
        var negativeCounts: [Int]
        var split: SessionNetwork.SplitPass
        var cache: ScoringHead.Cache
    }

    /// Scores `batch` with `table` (the normalized table under NISER, else nil), then writes the
    /// gradient of the batch-mean objective w.r.t. the scores into `logits` (B x N floats).
    /// `random` draws the uniform negatives of the ablation.
    func forwardAndLoss(
        _ batch: SessionBatch, _ p: ParameterAccess, table: ScoringHead.NormalizedTable?,
        logits: UnsafeMutablePointer<Float>, dropoutMask: [Float]?, random: inout RandomSource,
        timings: inout PhaseTimings
    ) -> Forward {
        let head = network.head
        let n = network.scorer.itemCount
        let rows = batch.count
        var clock = PhaseTimings.now()
        let split = network.forward(batch, p, normalizedTable: table, dropoutMask: dropoutMask, threads: threads)
        timings.sessionForward += PhaseTimings.lap(&clock)
        let cache = head.forward(split.sessions, batch: batch, p, table: table, into: logits, threads: threads)
        timings.scoring += PhaseTimings.lap(&clock)
        let targets = batch.targets.map { Int($0) - 1 }
        // Selection on the detached scores, before the cross-entropy overwrites them.
        var negatives: [[Int32]] = []
        var gathered: [[Float]] = []
        if configuration.usesAdaptiveNegatives || configuration.usesUniformNegatives {
            negatives = [[Int32]](repeating: [], count: rows)
            negatives.withUnsafeMutableBufferPointer { out in
                let box = UncheckedBox((out.baseAddress!, UnsafePointer(logits)))
                let configuration = configuration
                Parallel.forEachRange(count: rows, threads: threads) { range in
                    var scratch: [(index: Int32, score: Float)] = []
                    for row in range {
                        box.value.0[row] = NegativeSampling.hardNegatives(
                            box.value.1 + row &* n, count: n, target: targets[row],
                            candidates: configuration.negativeCandidates, margin: configuration.negativeMargin,
                            scratch: &scratch)
                    }
                }
            }
            for row in 0..<rows {
                let scores = logits + row &* n
                if configuration.usesUniformNegatives {
                    negatives[row] = NegativeSampling.uniformNegatives(
                        count: n, target: targets[row], size: negatives[row].count, random: &random)
                }
                gathered.append([scores[targets[row]]] + negatives[row].map { scores[Int($0)] })
            }
        }
        var loss = SoftmaxCrossEntropy.lossAndGradient(
            logits: logits, rows: rows, columns: n, targets: batch.targets, threads: threads)
        if !negatives.isEmpty {
            loss += NegativeSampling.addHardLoss(
                scores: gathered, columns: negatives, targets: targets, weight: configuration.negativeLossWeight,
                rows: rows, width: n, gradient: logits)
        }
        timings.loss += PhaseTimings.lap(&clock)
        return Forward(loss: loss, negativeCounts: negatives.map(\.count), split: split, cache: cache)
    }

    /// Adds the gradient of the batch-mean objective to `p`'s gradients (which the caller zeroes)
    /// the plain way: a dense gradient of the whole table (the reference the fused training
    /// step is tested against). `logits` holds B x N floats.
    func evaluate(
        _ batch: SessionBatch, _ p: ParameterAccess, logits: UnsafeMutablePointer<Float>, dropoutMask: [Float]?,
        random: inout RandomSource, backward: Bool = true
    ) -> Outcome {
        let head = network.head
        var timings = PhaseTimings()
        var clock = PhaseTimings.now()
        let table = head.normalizedTable(p, threads: threads)
        timings.sessionForward += PhaseTimings.lap(&clock)
        let forward = forwardAndLoss(
            batch, p, table: table, logits: logits, dropoutMask: dropoutMask, random: &random, timings: &timings)
        clock = PhaseTimings.now()
        var outcome = Outcome(loss: forward.loss, negativeCounts: forward.negativeCounts)
        guard backward, forward.loss.isFinite else {
            outcome.timings = timings
            return outcome
        }
        if let table {
            var tableGradient = [Float](repeating: 0, count: table.values.count)
            tableGradient.withUnsafeMutableBufferPointer { gp in
                let ds = head.backward(
                    forward.cache, logitGradient: logits, p, table: table, tableGradient: gp.baseAddress!, threads: threads)
                timings.scoringBackward += PhaseTimings.lap(&clock)
                let dh = network.initialStateGradients(forward.split, sessionGradient: ds, p)
                network.addLookupGradients(dh, forward.split, into: gp.baseAddress!)
                head.normalizationBackward(table: table, tableGradient: gp.baseAddress!, p, threads: threads)
            }
        } else {
            let ds = head.backward(forward.cache, logitGradient: logits, p, table: nil, tableGradient: nil, threads: threads)
            timings.scoringBackward += PhaseTimings.lap(&clock)
            let dh = network.initialStateGradients(forward.split, sessionGradient: ds, p)
            network.addLookupGradients(dh, forward.split, into: p.gradient(network.scorer.table))
        }
        timings.sessionBackward += PhaseTimings.lap(&clock)
        outcome.timings = timings
        return outcome
    }

    /// A dropout mask for H0 of `batch`: 0 with probability p, else 1 / (1 - p); nil without dropout.
    static func dropoutMask(nodes: Int, hidden: Int, rate: Float, random: inout RandomSource) -> [Float]? {
        guard rate > 0 else { return nil }
        let keep = 1 / (1 - rate)
        return (0..<(nodes * hidden)).map { _ in random.uniform(0, 1) < rate ? 0 : keep }
    }
}

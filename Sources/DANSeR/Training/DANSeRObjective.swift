/// The training objective with DANSeR's switches (MODEL.md section 7):
///   L = CE(softmax over all items of l', target) + lambda * L_hard,
/// `forwardAndLoss` is shared by the trainer's fused step and `evaluate`, the plain reference
/// with a dense gradient of the whole table that the gradient tests check.
struct DANSeRObjective {
    let network: SessionNetwork
    let configuration: ModelConfiguration
    let threads: Int
    /// lambda of the hard loss this step (`configuration.negativeLossWeight` but during a SANS ramp).
    var negativeWeight: Float

    init(network: SessionNetwork, configuration: ModelConfiguration, threads: Int, negativeWeight: Float? = nil) {
        self.network = network
        self.configuration = configuration
        self.threads = threads
        self.negativeWeight = negativeWeight ?? configuration.negativeLossWeight
    }

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
        /// sum_j dL/dl'_bj pi_j per row (behaviour normalization only), for `ScoringHead.backward`.
        var popularities: [Float]?
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
        let cache = head.forward(
            split.sessions, batch: batch, p, table: table, into: logits, threads: threads, addsBehaviour: false)
        timings.scoring += PhaseTimings.lap(&clock)
        // One pass over the rows, each row's scores in cache from start to end: the behaviour
        // terms, the negatives' selection (on the detached scores, before the cross-entropy
        // overwrites them), the cross-entropy and hard loss gradients in place, and the row's
        // popularity factor for the behaviour scalars' gradient. The uniform ablation draws its
        // negatives in row order from one stream, so it stops the pass after the selection.
        let adaptive = configuration.usesAdaptiveNegatives || configuration.usesUniformNegatives
        let uniform = configuration.usesUniformNegatives
        let targets = batch.targets.map { Int($0) - 1 }
        let scale = 1 / Float(rows)
        var negatives = [[Int32]](repeating: [], count: adaptive ? rows : 0)
        var gathered = [[Float]](repeating: [], count: adaptive ? rows : 0)
        var losses = [Double](repeating: 0, count: rows)
        var hardLosses = [Double](repeating: 0, count: adaptive ? rows : 0)
        var popularities = [Float](repeating: 0, count: rows)
        let configuration = configuration
        let negativeWeight = negativeWeight
        negatives.withUnsafeMutableBufferPointer { negativeBuffer in
            gathered.withUnsafeMutableBufferPointer { gatheredBuffer in
                losses.withUnsafeMutableBufferPointer { lossBuffer in
                    hardLosses.withUnsafeMutableBufferPointer { hardBuffer in
                        popularities.withUnsafeMutableBufferPointer { popularityBuffer in
                            let box = UncheckedBox((
                                negativeBuffer.baseAddress, gatheredBuffer.baseAddress, lossBuffer.baseAddress!,
                                hardBuffer.baseAddress, popularityBuffer.baseAddress!, p))
                            /// The cross-entropy, the hard loss and the popularity factor of `row`.
                            func finish(_ row: Int) {
                                let (negatives, gathered, losses, hardLosses, popularities, p) = box.value
                                let scores = logits + row &* n
                                losses[row] = SoftmaxCrossEntropy.lossAndGradient(
                                    row: scores, columns: n, target: targets[row], scale: scale,
                                    smoothing: configuration.labelSmoothing)
                                if adaptive {
                                    hardLosses![row] = NegativeSampling.addHardLoss(
                                        scores: gathered![row], columns: negatives![row], target: targets[row],
                                        weight: negativeWeight, rows: rows, gradient: scores)
                                }
                                popularities[row] = head.popularity(ofGradient: scores, p)
                            }
                            // Without negatives or smoothing, four reads of each row where six were: the
                            // behaviour add with the maximum, the exponentials, their sum, and the
                            // scaling with the popularity factor.
                            let plain = !adaptive && configuration.labelSmoothing == 0
                            Parallel.forEachRange(count: rows, threads: threads) { range in
                                let (negatives, gathered, losses, _, popularities, p) = box.value
                                var scratch: [(index: Int32, score: Float)] = []
                                for row in range {
                                    let scores = logits + row &* n
                                    if plain {
                                        let shift = head.addBehaviourReturningMaximum(row: row, into: scores, cache, p)
                                        (losses[row], popularities[row]) = SoftmaxCrossEntropy.lossAndGradient(
                                            row: scores, columns: n, target: targets[row], scale: scale, shift: shift,
                                            weights: head.popularityWeights(p))
                                        continue
                                    }
                                    head.addBehaviour(row: row, into: scores, cache, p)
                                    if adaptive {
                                        negatives![row] = NegativeSampling.hardNegatives(
                                            scores, count: n, target: targets[row],
                                            candidates: configuration.negativeCandidates,
                                            margin: configuration.negativeMargin, scratch: &scratch)
                                    }
                                    guard !uniform else { continue }
                                    if adaptive {
                                        gathered![row] = [scores[targets[row]]] + negatives![row].map { scores[Int($0)] }
                                    }
                                    finish(row)
                                }
                            }
                            guard uniform else { return }
                            let (negatives, gathered, _, _, _, _) = box.value
                            for row in 0..<rows {
                                let scores = logits + row &* n
                                negatives![row] = NegativeSampling.uniformNegatives(
                                    count: n, target: targets[row], size: negatives![row].count, random: &random)
                                gathered![row] = [scores[targets[row]]] + negatives![row].map { scores[Int($0)] }
                            }
                            Parallel.forEachRange(count: rows, threads: threads) { range in
                                for row in range { finish(row) }
                            }
                        }
                    }
                }
            }
        }
        // Summed in row order: the cross-entropy's, then the hard loss's.
        var loss = losses.reduce(0, +)
        if adaptive { loss += hardLosses.reduce(0, +) }
        timings.loss += PhaseTimings.lap(&clock)
        return Forward(
            loss: loss, negativeCounts: negatives.map(\.count), split: split, cache: cache,
            popularities: head.behaviour == nil ? nil : popularities)
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
                    forward.cache, logitGradient: logits, p, table: table, tableGradient: gp.baseAddress!, threads: threads,
                    popularities: forward.popularities)
                timings.scoringBackward += PhaseTimings.lap(&clock)
                let dh = network.initialStateGradients(forward.split, sessionGradient: ds, p)
                network.addLookupGradients(dh, forward.split, into: gp.baseAddress!)
                head.normalizationBackward(table: table, tableGradient: gp.baseAddress!, p, threads: threads)
            }
        } else {
            let ds = head.backward(
                forward.cache, logitGradient: logits, p, table: nil, tableGradient: nil, threads: threads,
                popularities: forward.popularities)
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

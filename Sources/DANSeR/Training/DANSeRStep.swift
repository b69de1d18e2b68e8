extension Trainer {
    /// One optimizer step with DANSeR's scoring or objective (anything the plain SR-GNN step does
    /// not cover), on the same memory-lean path: the session network runs by parts side by side,
    /// the scoring backward computes ds alone, and dL/dE never exists whole: block by block it is
    /// dL^T s plus the lookup rows, taken back through the normalization (NISER), then Adam, and
    /// the block's normalized rows are rewritten for the next step. The normalized table is
    /// kept between steps, so no table-sized buffer is allocated per step.
    /// `DANSeRObjective.evaluate` is the plain reference this is tested against.
    mutating func danserStep(_ batch: SessionBatch, learningRate: Float) -> Double {
        let network = model.network
        let head = network.head
        let configuration = model.configuration
        let rows = batch.count
        let n = model.itemCount
        if logits.count < rows * n { logits = [Float](repeating: 0, count: rows * n) }
        var optimizer = takeOptimizer()
        var timings = self.timings
        // A fresh stream per optimizer step: dropout masks and uniform negatives never repeat.
        var random = RandomSource(seed: seed, stream: 4, epoch: optimizer.step)
        let mask = DANSeRObjective.dropoutMask(
            nodes: batch.nodeCount, hidden: configuration.hiddenSize, rate: dropoutOverride ?? configuration.dropout, random: &random)
        let objective = DANSeRObjective(
            network: network, configuration: configuration, threads: threads,
            negativeWeight: configuration.negativeLossWeight(atEpoch: epochProgress))
        let slot = network.scorer.table
        let current = normalizedStep == optimizer.step
        var table = takeNormalizedTable()
        let threads = threads
        var loss = 0.0
        model.parameters.withUnsafeMutableBufferPointer { values in
            gradients.withUnsafeMutableBufferPointer { grads in
                logits.withUnsafeMutableBufferPointer { logitBuffer in
                    let p = ParameterAccess(values: values.baseAddress!, gradients: grads.baseAddress!)
                    let dl = logitBuffer.baseAddress!
                    // The table's gradient rows stay zero between steps except those a step
                    // touches (the fused update re-zeroes them); zero the rest here.
                    let rest = slot.offset + slot.count
                    (grads.baseAddress! + rest).update(repeating: 0, count: grads.count - rest)
                    var clock = PhaseTimings.now()
                    if !current, table != nil { head.normalize(p, into: &table!, threads: threads) }
                    timings.sessionForward += PhaseTimings.lap(&clock)
                    let forward = objective.forwardAndLoss(
                        batch, p, table: table, logits: dl, dropoutMask: mask, random: &random, timings: &timings)
                    loss = forward.loss
                    clock = PhaseTimings.now()
                    guard loss.isFinite else { return }
                    let ds = head.backward(
                        forward.cache, logitGradient: dl, p, table: table, tableGradient: nil,
                        sessionGradientOnly: true, threads: threads, popularities: forward.popularities)
                    timings.scoringBackward += PhaseTimings.lap(&clock)
                    // dL/dH0 lands on the batch's item rows (of E^ under NISER): the sparse part of dL/dE.
                    let dh = network.initialStateGradients(forward.split, sessionGradient: ds, p)
                    network.addLookupGradients(dh, forward.split, into: p.gradient(slot))
                    timings.sessionBackward += PhaseTimings.lap(&clock)
                    let step = optimizer.begin(learningRate: learningRate, l2: configuration.l2)
                    let fused = FusedScoringStep(scorer: network.scorer, threads: threads)
                    optimizer.withMoments { m, v in
                        AdamState.apply(
                            step, values: values.baseAddress!, gradients: grads.baseAddress!, m: m, v: v,
                            range: rest..<network.frozenStart)
                        func update(_ normalized: ScoringHead.NormalizedRows?) {
                            fused.updateTable(
                                logitGradient: dl, rows: rows, sessions: forward.cache.scored,
                                touchedRows: batch.nodeItems, adam: step, m: m, v: v, p, normalized: normalized)
                        }
                        if table != nil {
                            table!.withMutableRows(hidden: slot.cols) { update($0) }
                        } else {
                            update(nil)
                        }
                    }
                    timings.optimizer += PhaseTimings.lap(&clock)
                    timings.scoredRows += rows
                    timings.scoredColumns += rows * n
                    timings.updatedTableRows += slot.rows
                }
            }
        }
        self.optimizer = optimizer
        self.timings = timings
        normalized = table
        normalizedStep = optimizer.step
        return loss
    }

    /// The optimizer state, taken out of the trainer while a step writes it (the step puts it
    /// back), so its moment buffers are written in place, never copied on write.
    mutating func takeOptimizer() -> AdamState {
        defer { optimizer = AdamState(parameterCount: 0) }
        return optimizer
    }

    /// The kept normalized table under NISER (a zero one the first time), taken out of the
    /// trainer while a step writes it, so the writes never copy it; nil without NISER.
    mutating func takeNormalizedTable() -> ScoringHead.NormalizedTable? {
        guard model.network.head.normalizes else { return nil }
        let slot = model.network.scorer.table
        defer { normalized = nil }
        return normalized ?? ScoringHead.NormalizedTable(
            values: [Float](repeating: 0, count: slot.count), norms: [Float](repeating: 1, count: slot.rows))
    }
}

extension PhaseTimings {
    /// Adds the seconds of `other`, phase by phase.
    mutating func add(_ other: PhaseTimings) {
        batching += other.batching
        sessionForward += other.sessionForward
        scoring += other.scoring
        loss += other.loss
        scoringBackward += other.scoringBackward
        sessionBackward += other.sessionBackward
        optimizer += other.optimizer
    }
}

extension Trainer {
    /// One optimizer step with DANSeR's scoring or objective (anything the fused SR-GNN step does
    /// not cover): dense gradients, then Adam over every weight but the behaviour statistics.
    mutating func danserStep(_ batch: SessionBatch, learningRate: Float) -> Double {
        let network = model.network
        let configuration = model.configuration
        let rows = batch.count
        let n = model.itemCount
        if logits.count < rows * n { logits = [Float](repeating: 0, count: rows * n) }
        var optimizer = self.optimizer
        var timings = self.timings
        // A fresh stream per optimizer step: dropout masks and uniform negatives never repeat.
        var random = RandomSource(seed: seed, stream: 4, epoch: optimizer.step)
        let mask = DANSeRObjective.dropoutMask(
            nodes: batch.nodeCount, hidden: configuration.hiddenSize, rate: configuration.dropout, random: &random)
        let objective = DANSeRObjective(network: network, configuration: configuration, threads: threads)
        var loss = 0.0
        model.parameters.withUnsafeMutableBufferPointer { values in
            gradients.withUnsafeMutableBufferPointer { grads in
                logits.withUnsafeMutableBufferPointer { logitBuffer in
                    grads.update(repeating: 0)
                    let p = ParameterAccess(values: values.baseAddress!, gradients: grads.baseAddress!)
                    let outcome = objective.evaluate(
                        batch, p, logits: logitBuffer.baseAddress!, dropoutMask: mask, random: &random)
                    loss = outcome.loss
                    timings.add(outcome.timings)
                    var clock = PhaseTimings.now()
                    guard loss.isFinite else { return }
                    let step = optimizer.begin(learningRate: learningRate, l2: configuration.l2)
                    let trainable = network.frozenStart
                    optimizer.withMoments { m, v in
                        let box = UncheckedBox((values.baseAddress!, grads.baseAddress!, m, v))
                        Parallel.forEachRange(count: trainable, threads: threads) { range in
                            AdamState.apply(
                                step, values: box.value.0, gradients: box.value.1, m: box.value.2, v: box.value.3,
                                range: range)
                        }
                    }
                    timings.optimizer += PhaseTimings.lap(&clock)
                    timings.scoredRows += rows
                }
            }
        }
        self.optimizer = optimizer
        self.timings = timings
        return loss
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

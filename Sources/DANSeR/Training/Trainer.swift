internal import Dispatch

/// The epoch loop: shuffled batches of prefixes, forward, fused softmax cross-entropy, backward,
/// Adam. Owns the model, the optimizer state and the reusable buffers.
public struct Trainer: Sendable {
    /// What a per-batch callback sees; return false from it to stop (the epoch throws `.cancelled`).
    public struct Progress: Sendable {
        public let epoch: Int
        public let batch: Int
        public let batchCount: Int
        public let examples: Int
        public let meanLoss: Double
    }

    /// One finished epoch.
    public struct EpochSummary: Sendable {
        public let epoch: Int
        public let meanLoss: Double
        public let examples: Int
        public let learningRate: Float
    }

    /// Code that changes the weights outside a step must set `normalizedStep = -1`.
    public internal(set) var model: Model
    public internal(set) var optimizer: AdamState
    /// Epochs finished so far; the next epoch to run has this index (0-based).
    public internal(set) var completedEpochs: Int
    /// Fixes the initialization and every epoch's shuffle.
    public let seed: UInt64
    /// Threads for the scoring products and the element-wise phases. Set BLAS to one thread
    /// (`BLAS.setThreadCount(1)`) while training: the trainer splits the work itself.
    public var threads: Int

    /// Seconds spent in each phase of training so far (for benchmarks and progress reports).
    public internal(set) var timings = PhaseTimings()

    /// The sampled softmax (`SampledSoftmax`) instead of the full one; nil (the default): every
    /// item is scored for every prefix. Not stored with a checkpoint: set it after restoring.
    public var sampling: SampledSoftmax?
    /// Dropout on H0 for the steps that follow instead of the configuration's (nil: the
    /// configuration's). Not stored with a checkpoint.
    public var dropoutOverride: Float?
    /// The sampled softmax's proposal for the epoch being trained.
    var proposal: CandidateProposal?

    var gradients: [Float]
    var logits: [Float] = []
    /// DANSeR's step keeps the normalized table (NISER) between steps; it is that of the
    /// weights after optimizer step `normalizedStep` (-1: none).
    var normalized: ScoringHead.NormalizedTable?
    var normalizedStep = -1
    /// Epochs of training done before the current step, fractional within an epoch (the SANS ramp's clock).
    var epochProgress = 0.0

    /// A fresh model initialized from `seed`.
    public init(configuration: ModelConfiguration, itemCount: Int, seed: UInt64, threads: Int = 1) throws(DANSeRError) {
        let model = try Model(configuration: configuration, itemCount: itemCount, seed: seed)
        self.init(model: model, optimizer: AdamState(parameterCount: model.layout.totalCount),
                  completedEpochs: 0, seed: seed, threads: threads)
    }

    init(model: Model, optimizer: AdamState, completedEpochs: Int, seed: UInt64, threads: Int) {
        self.model = model
        self.optimizer = optimizer
        self.completedEpochs = completedEpochs
        self.seed = seed
        self.threads = max(1, threads)
        gradients = [Float](repeating: 0, count: model.layout.totalCount)
    }

    /// The step schedule: rate x decayRate every decayStep epochs.
    public func learningRate(epoch: Int) -> Float {
        let c = model.configuration
        var rate = c.learningRate
        for _ in 0..<(epoch / c.decayStep) { rate *= c.decayRate }
        return rate
    }

    /// The order of the examples in `epoch`: a seeded shuffle, the same on every run.
    public func order(epoch: Int, count: Int) -> [Int] {
        var random = RandomSource(seed: seed, stream: 2, epoch: epoch)
        var order = Array(0..<count)
        order.shuffle(using: &random)
        return order
    }

    /// Trains one epoch on `examples`. On a non-finite loss it throws naming the epoch and
    /// batch; the weights are then unusable and the caller keeps its last checkpoint.
    /// `learningRate` replaces the schedule's rate for this epoch, `order` the seeded shuffle. The
    /// behaviour statistics are counted once, on the first epoch's examples: later passes over
    /// fewer sessions keep them.
    public mutating func trainEpoch(
        on examples: PrefixSet, learningRate fixedRate: Float? = nil, order explicitOrder: [Int]? = nil,
        progress: (Progress) -> Bool = { _ in true }
    ) throws(DANSeRError) -> EpochSummary {
        let epoch = completedEpochs
        let c = model.configuration
        if model.needsBehaviourStatistics {
            try model.setBehaviourStatistics(BehaviourStatistics(training: examples.sessions, itemCount: model.itemCount))
        }
        if let sampling {
            try sampling.validate()
            guard c.labelSmoothing == 0 else {
                throw DANSeRError(
                    .invalidConfiguration,
                    "label smoothing (\(c.labelSmoothing)) applies to the full softmax only, but this run trains with "
                        + "the sampled softmax; leave label smoothing at 0, or raise --sampled-softmax-above above the item count")
            }
            proposal = CandidateProposal(examples: examples, itemCount: model.itemCount, exponent: sampling.exponent)
        }
        let rate = fixedRate ?? learningRate(epoch: epoch)
        let order = explicitOrder ?? order(epoch: epoch, count: examples.count)
        precondition(order.count == examples.count, "an order lists every example once")
        let batchCount = (order.count + c.batchSize - 1) / c.batchSize
        var lossSum = 0.0
        var seen = 0
        for batchIndex in 0..<batchCount {
            let lower = batchIndex * c.batchSize
            let indices = order[lower..<min(order.count, lower + c.batchSize)]
            let batchStart = PhaseTimings.now()
            let batch = SessionBatch(examples, indices: indices, maxLength: c.maxSessionLength)
            timings.batching += PhaseTimings.seconds(since: batchStart)
            epochProgress = Double(epoch) + Double(batchIndex) / Double(batchCount)
            let loss = step(batch, learningRate: rate)
            guard loss.isFinite else {
                throw DANSeRError(
                    .nonFiniteLoss,
                    "the loss became \(loss) in epoch \(epoch + 1), batch \(batchIndex + 1) of \(batchCount); "
                        + "the run stopped and the last checkpoint is the last good state; "
                        + "lower the learning rate or check the input")
            }
            lossSum += loss
            seen += indices.count
            let report = Progress(
                epoch: epoch, batch: batchIndex + 1, batchCount: batchCount, examples: seen,
                meanLoss: lossSum / Double(seen))
            guard progress(report) else {
                throw DANSeRError(.cancelled, "training was stopped in epoch \(epoch + 1) at batch \(batchIndex + 1)")
            }
        }
        completedEpochs += 1
        return EpochSummary(epoch: epoch, meanLoss: lossSum / Double(max(1, seen)), examples: seen, learningRate: rate)
    }

    /// One optimizer step on one batch; returns the summed loss of the batch.
    mutating func step(_ batch: SessionBatch, learningRate: Float) -> Double {
        if let sampling, let proposal {
            return sampledStep(batch, learningRate: learningRate, sampling: sampling, proposal: proposal)
        }
        if !model.configuration.usesFusedScoring { return danserStep(batch, learningRate: learningRate) }
        let network = model.network
        let itemCount = model.itemCount
        let rows = batch.count
        if logits.count < rows * itemCount { logits = [Float](repeating: 0, count: rows * itemCount) }
        let l2 = model.configuration.l2
        let threads = threads
        var loss = 0.0
        var optimizer = takeOptimizer()
        var timings = self.timings
        model.parameters.withUnsafeMutableBufferPointer { values in
            gradients.withUnsafeMutableBufferPointer { grads in
                logits.withUnsafeMutableBufferPointer { logitBuffer in
                    let p = ParameterAccess(values: values.baseAddress!, gradients: grads.baseAddress!)
                    let table = network.scorer.table
                    let fused = FusedScoringStep(scorer: network.scorer, threads: threads)
                    // The embedding gradient buffer stays zero between steps except for the rows a
                    // step touches (the fused update re-zeroes them); zero the rest here.
                    let rest = table.offset + table.count
                    (grads.baseAddress! + rest).update(repeating: 0, count: grads.count - rest)
                    var clock = PhaseTimings.now()
                    let pass = network.forward(batch, p, threads: threads)
                    timings.sessionForward += PhaseTimings.lap(&clock)
                    network.scorer.scores(pass.sessions, p, into: logitBuffer.baseAddress!, threads: threads)
                    timings.scoring += PhaseTimings.lap(&clock)
                    let (batchLoss, scales) = fused.exponentiate(
                        logits: logitBuffer.baseAddress!, rows: rows, targets: batch.targets)
                    loss = batchLoss
                    timings.loss += PhaseTimings.lap(&clock)
                    guard loss.isFinite else { return }
                    let ds = fused.sessionGradient(
                        probabilities: logitBuffer.baseAddress!, scales: scales, targets: batch.targets,
                        hidden: pass.sessions.cols, p)
                    timings.scoringBackward += PhaseTimings.lap(&clock)
                    let dh = network.initialStateGradients(pass, sessionGradient: ds, p)
                    network.addLookupGradients(dh, pass, into: p.gradient(table))
                    timings.sessionBackward += PhaseTimings.lap(&clock)
                    let step = optimizer.begin(learningRate: learningRate, l2: l2)
                    optimizer.withMoments { m, v in
                        AdamState.apply(
                            step, values: values.baseAddress!, gradients: grads.baseAddress!, m: m, v: v,
                            range: rest..<grads.count)
                        fused.updateEmbedding(
                            probabilities: logitBuffer.baseAddress!, scales: scales, sessions: pass.sessions,
                            targets: batch.targets, touchedRows: batch.nodeItems, adam: step, m: m, v: v, p)
                    }
                    timings.optimizer += PhaseTimings.lap(&clock)
                    timings.scoredRows += rows
                    timings.scoredColumns += rows * itemCount
                    timings.updatedTableRows += itemCount + 1
                }
            }
        }
        self.optimizer = optimizer
        self.timings = timings
        return loss
    }
}

/// Wall-clock seconds per training phase, summed over steps.
public struct PhaseTimings: Sendable {
    public var batching = 0.0
    public var sessionForward = 0.0
    /// The (B x d) x (d x N) product.
    public var scoring = 0.0
    public var loss = 0.0
    /// The two backward products of scoring.
    public var scoringBackward = 0.0
    public var sessionBackward = 0.0
    public var optimizer = 0.0
    /// Session rows scored so far (the m of the scoring products).
    public var scoredRows = 0
    /// (row, item) scores computed so far: N per row with the full softmax, the batch's
    /// candidates per row with the sampled one.
    public var scoredColumns = 0
    /// Rows of the embedding table updated so far (every row each step with the full softmax).
    public var updatedTableRows = 0

    public init() {}

    public var total: Double {
        batching + sessionForward + scoring + loss + scoringBackward + sessionBackward + optimizer
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    static func seconds(since start: UInt64) -> Double { Double(now() &- start) / 1e9 }

    static func lap(_ clock: inout UInt64) -> Double {
        let current = now()
        defer { clock = current }
        return Double(current &- clock) / 1e9
    }
}

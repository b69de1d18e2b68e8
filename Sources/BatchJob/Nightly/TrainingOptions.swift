import ArgumentParser
import DANSeR

/// How `nightly` and `backfill` train, evaluate and gate (`score` only scores, so it has none).
struct TrainingOptions: ParsableArguments {
    @Option(help: "Training mode: auto (retrain every --retrain-every-days, fine-tune in between), retrain or finetune.")
    var mode: TrainingModeOption = Settings.current.value(.mode, or: .auto)

    @Option(help: "In auto mode, retrain once the last full retrain is this many days old (1: every night).")
    var retrainEveryDays = Settings.current.value(.retrainEveryDays, or: 7)

    @Option(help: "Model configuration preset: danser or srgnn.")
    var config = Settings.current.value(.preset, or: "danser")

    @Option(help: "Most epochs of a full retrain (fewer when validation stops it early).")
    var epochs = Settings.current.value(.epochs, or: 6)

    @Option(help: "Most epochs of a fine-tune (fewer when validation stops it early; 0 epochs, the champion as it was, can win).")
    var finetuneEpochs = Settings.current.value(.finetuneEpochs, or: 3)

    @Option(help: "Share of the training sessions (the most recent) held out to choose the epoch on.")
    var validationFraction = Settings.current.value(.validationFraction, or: 0.1)

    @Option(help: "Hold out the training sessions of the last N days instead (overrides --validation-fraction).")
    var validationDays: Int?

    @Option(help: "Stop after this many epochs in a row without a better validation P@20 + MRR@20.")
    var patience = Settings.current.value(.patience, or: 2)

    @Option(help: "Days of clicks a fine-tune trains on. Default: those a retrain reads (--history-days less --evaluation-days).")
    var finetuneWindowDays: Int?

    @Option(help: "A fine-tune's first learning rate, as a share of the preset's (the same every night, whatever the champion's was).")
    var finetuneRateScale = Settings.current.value(.finetuneRateScale, or: 1.0)

    @Option(help: "A fine-tune's rate decays (by the preset's factor) every N epochs.")
    var finetuneDecayEpochs = Settings.current.value(.finetuneDecayEpochs, or: 2)

    @Option(help: "The share of the champion's weights a fine-tune starts from, the rest a fresh start's (1: the champion as it is).")
    var finetuneKeep = Settings.current.value(.finetuneKeep, or: 0.3)

    @Option(help: "Training ends with one pass over the sessions of the last N days of its training period, kept only if better on validation (0: off).")
    var finishDays = Settings.current.value(.finishDays, or: FinishingPass.defaultDays)

    @Option(help: "Learning rate of that finishing pass.")
    var finishLearningRate = Settings.current.value(.finishLearningRate, or: Double(FinishingPass.defaultLearningRate))

    @Option(help: "Order of that pass: day-by-day (oldest day first, shuffled within each day, ending on the most recent) or shuffled.")
    var finishOrder = Settings.current.value(.finishOrder, or: FinishOrder.dayByDay)

    @Option(help: "Days before --as-of held out for evaluation.")
    var evaluationDays = Settings.current.value(.evaluationDays, or: 1)

    @Option(help: "Items with fewer training clicks are left out.")
    var minItemClicks = Settings.current.value(.minItemClicks, or: 5)

    @Option(help: "Percentage points of P@20 or MRR@20 a candidate may trail the champion by and still be promoted.")
    var tolerance = Settings.current.value(.tolerance, or: 0.5)

    @Option(help: "Random seed of training.")
    var seed: UInt64 = Settings.current.value(.seed, or: 1)

    @Option(help: "Train with the sampled softmax (in-batch and popularity-sampled negatives with the logQ correction) when the catalogue has more items than this; 0: always.")
    var sampledSoftmaxAbove = Settings.current.value(.sampledSoftmaxAbove, or: SampledSoftmax.defaultThreshold)

    @Option(help: "Popularity-sampled negatives per batch of the sampled softmax.")
    var sampledNegatives = Settings.current.value(.sampledNegatives, or: SampledSoftmax.defaultNegatives)

    @Option(help: "Train on at most this many sessions, the most recent by last click (the validation window is carved from them).")
    var maxTrainingSessions = Settings.current.value(.maxTrainingSessions, or: TrainingSessionCap.defaultLimit)

    @Option(help: "Evaluate the candidate, the champion and the contenders on at most this many held-out sessions, and choose epochs on at most this many validation sessions: an evenly spread sample of each, the same on every rerun.")
    var maxEvaluationSessions = Settings.current.value(.maxEvaluationSessions, or: EvaluationSample.defaultLimit)

    func validate() throws {
        guard ModelConfiguration.preset(named: config) != nil else { throw ValidationError("--config must be danser or srgnn (got '\(config)').") }
        guard (1...1_000).contains(epochs), (1...1_000).contains(finetuneEpochs) else { throw ValidationError("--epochs and --finetune-epochs must be between 1 and 1,000.") }
        guard (1...3_650).contains(retrainEveryDays) else {
            throw ValidationError("--retrain-every-days must be between 1 (every night) and 3,650 (got \(retrainEveryDays)).")
        }
        guard (1...365).contains(evaluationDays) else { throw ValidationError("--evaluation-days must be between 1 and 365.") }
        if let days = finetuneWindowDays ?? Settings.current.optional(.finetuneWindowDays), !(1...36_500).contains(days) {
            throw ValidationError("--finetune-window-days must be between 1 and 36,500 (got \(days)).")
        }
        guard finetuneRateScale > 0, finetuneRateScale <= 10 else {
            throw ValidationError("--finetune-rate-scale must be above 0 and at most 10, e.g. 0.1 or 1 (got \(finetuneRateScale)).")
        }
        guard finetuneKeep > 0, finetuneKeep <= 1 else {
            throw ValidationError("--finetune-keep must be above 0 and at most 1, e.g. 0.3 or 1 (got \(finetuneKeep)).")
        }
        guard (1...1_000).contains(finetuneDecayEpochs) else {
            throw ValidationError("--finetune-decay-epochs must be between 1 and 1,000 (got \(finetuneDecayEpochs)).")
        }
        guard (0...36_500).contains(finishDays) else {
            throw ValidationError("--finish-days must be 0 (off) or a number of days, e.g. 30 (got \(finishDays)).")
        }
        guard finishLearningRate > 0, finishLearningRate <= 1 else {
            throw ValidationError("--finish-learning-rate must be above 0 and at most 1, e.g. 5e-4 (got \(finishLearningRate)).")
        }
        guard (1...1_000_000).contains(minItemClicks) else { throw ValidationError("--min-item-clicks must be at least 1.") }
        guard tolerance >= 0, tolerance.isFinite else { throw ValidationError("--tolerance must be zero or more.") }
        guard validationFraction > 0, validationFraction < 1 else {
            throw ValidationError("--validation-fraction must be between 0 and 1, e.g. 0.1 (got \(validationFraction)).")
        }
        if let validationDays = validationDays ?? Settings.current.optional(.validationDays), !(1...365).contains(validationDays) { throw ValidationError("--validation-days must be between 1 and 365.") }
        guard (1...1_000).contains(patience) else { throw ValidationError("--patience must be between 1 and 1,000.") }
        try Self.validateSampling(above: sampledSoftmaxAbove, negatives: sampledNegatives)
        guard maxTrainingSessions >= 1 else {
            throw ValidationError("--max-training-sessions must be a number of sessions, 1 or more (got \(maxTrainingSessions)).")
        }
        guard maxEvaluationSessions >= 1 else {
            throw ValidationError("--max-evaluation-sessions must be a number of sessions, 1 or more (got \(maxEvaluationSessions)).")
        }
    }

    /// The checks of `--sampled-softmax-above` and `--sampled-negatives` (shared with `experiment`).
    static func validateSampling(above: Int, negatives: Int) throws {
        guard above >= 0 else {
            throw ValidationError("--sampled-softmax-above must be 0 (always sampled) or a number of items (got \(above)).")
        }
        guard (1...SampledSoftmax.maximumNegatives).contains(negatives) else {
            throw ValidationError("--sampled-negatives must be between 1 and \(SampledSoftmax.maximumNegatives) (got \(negatives)).")
        }
    }

    func apply(to settings: inout NightlySettings) {
        settings.mode = mode.mode
        settings.modeRule.retrainEveryDays = retrainEveryDays
        settings.configurationName = config.lowercased()
        settings.configuration = ModelConfiguration.preset(named: config) ?? .danser
        settings.validationWindow = (validationDays ?? Settings.current.optional(.validationDays)).map { .days($0) } ?? .fraction(validationFraction)
        settings.patience = patience
        settings.epochs = epochs
        settings.finetuneEpochs = finetuneEpochs
        settings.finetuneWindowDays = finetuneWindowDays ?? Settings.current.optional(.finetuneWindowDays)
        settings.finetuneRateScale = Float(finetuneRateScale)
        settings.finetuneDecayEpochs = finetuneDecayEpochs
        settings.finetuneKeep = finetuneKeep
        settings.finishingPass = finishDays > 0 ? FinishingPass(
            days: finishDays, learningRate: Float(finishLearningRate), inTimeOrder: finishOrder.inTimeOrder) : nil
        settings.evaluationDays = evaluationDays
        settings.minItemClicks = minItemClicks
        settings.tolerance = tolerance
        settings.seed = seed
        settings.sampledSoftmaxAbove = sampledSoftmaxAbove
        settings.sampledNegatives = sampledNegatives
        settings.maxTrainingSessions = maxTrainingSessions
        settings.maxEvaluationSessions = maxEvaluationSessions
    }
}

enum TrainingModeOption: String, ExpressibleByArgument, CaseIterable {
    case auto, retrain, finetune

    var mode: TrainingMode { TrainingMode(rawValue: rawValue) ?? .auto }
}

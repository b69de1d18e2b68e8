import ArgumentParser
import DANSeR

/// How `nightly` and `backfill` train, evaluate and gate (`score` only scores, so it has none).
struct TrainingOptions: ParsableArguments {
    @Option(help: "Training mode: auto (weekly retrain, fine-tune in between), retrain or finetune.")
    var mode: TrainingModeOption = .auto

    @Option(help: "Model configuration preset: srgnn or danser.")
    var config = "srgnn"

    @Option(help: "Epochs of a full retrain.")
    var epochs = 6

    @Option(help: "Epochs of a fine-tune.")
    var finetuneEpochs = 2

    @Option(help: "Days of clicks a fine-tune trains on.")
    var finetuneWindowDays = 7

    @Option(help: "Days before --as-of held out for evaluation.")
    var evaluationDays = 1

    @Option(help: "Items with fewer training clicks are left out.")
    var minItemClicks = 5

    @Option(help: "Percentage points of P@20 or MRR@20 a candidate may trail the champion by and still be promoted.")
    var tolerance = 0.5

    @Option(help: "Random seed of training.")
    var seed: UInt64 = 1

    func validate() throws {
        guard ModelConfiguration.preset(named: config) != nil else { throw ValidationError("--config must be srgnn or danser (got '\(config)').") }
        guard (1...1_000).contains(epochs), (1...1_000).contains(finetuneEpochs) else { throw ValidationError("--epochs and --finetune-epochs must be between 1 and 1,000.") }
        guard (1...365).contains(evaluationDays) else { throw ValidationError("--evaluation-days must be between 1 and 365.") }
        guard (1...365).contains(finetuneWindowDays) else { throw ValidationError("--finetune-window-days must be between 1 and 365.") }
        guard (1...1_000_000).contains(minItemClicks) else { throw ValidationError("--min-item-clicks must be at least 1.") }
        guard tolerance >= 0, tolerance.isFinite else { throw ValidationError("--tolerance must be zero or more.") }
    }

    func apply(to settings: inout NightlySettings) {
        settings.mode = mode.mode
        settings.configurationName = config.lowercased()
        settings.configuration = ModelConfiguration.preset(named: config) ?? .srgnn
        settings.epochs = epochs
        settings.finetuneEpochs = finetuneEpochs
        settings.finetuneWindowDays = finetuneWindowDays
        settings.evaluationDays = evaluationDays
        settings.minItemClicks = minItemClicks
        settings.tolerance = tolerance
        settings.seed = seed
    }
}

enum TrainingModeOption: String, ExpressibleByArgument, CaseIterable {
    case auto, retrain, finetune

    var mode: TrainingMode { TrainingMode(rawValue: rawValue) ?? .auto }
}

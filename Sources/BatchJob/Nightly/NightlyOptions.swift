import ArgumentParser
import Foundation
import DANSeR
import FeatureStore

/// The nightly job's options, shared by `nightly` and `backfill`.
struct NightlyOptions: ParsableArguments {
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

    @Option(help: "Hours before --as-of in which a session must have clicked to be scored.")
    var activeWindowHours = 24

    @Option(help: "Recommendations per session (1 to 1,000).")
    var topK = 20

    @Flag(help: "Never recommend items already in the session.")
    var excludeSeen = false

    @Option(help: "Percentage points of P@20 or MRR@20 a candidate may trail the champion by and still be promoted.")
    var tolerance = 0.5

    @Option(help: "Random seed of training.")
    var seed: UInt64 = 1

    @Option(help: "Threads for training and scoring (1 to 64).")
    var threads = 2

    @Option(help: "Click source table (schema.table).")
    var sourceTable = "danser.click_log"

    @Option(help: "Session id column of the source table (cast to text).")
    var sessionColumn = "session_id"

    @Option(help: "Item id column of the source table (cast to text).")
    var itemColumn = "item_id"

    @Option(help: "Click time column of the source table (cast to timestamptz).")
    var timeColumn = "event_time"

    @Option(help: "Folder for the HTML run report (default: DANSER_REPORT_DIR, else reports/ in the state folder).")
    var reportDir: String?

    @Option(help: "Folder for the Prometheus textfile danser_batch.prom (default: DANSER_METRICS_DIR; none if unset).")
    var metricsDir: String?

    func validate() throws {
        guard ModelConfiguration.preset(named: config) != nil else { throw ValidationError("--config must be srgnn or danser (got '\(config)').") }
        guard (1...1_000).contains(epochs), (1...1_000).contains(finetuneEpochs) else { throw ValidationError("--epochs and --finetune-epochs must be between 1 and 1,000.") }
        guard (1...365).contains(evaluationDays) else { throw ValidationError("--evaluation-days must be between 1 and 365.") }
        guard (1...365).contains(finetuneWindowDays) else { throw ValidationError("--finetune-window-days must be between 1 and 365.") }
        guard (1...1_000_000).contains(minItemClicks) else { throw ValidationError("--min-item-clicks must be at least 1.") }
        guard (1...24 * 365).contains(activeWindowHours) else { throw ValidationError("--active-window-hours must be between 1 and 8,760.") }
        guard (1...1_000).contains(topK) else { throw ValidationError("--top-k must be between 1 and 1,000 (got \(topK)).") }
        guard tolerance >= 0, tolerance.isFinite else { throw ValidationError("--tolerance must be zero or more.") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64.") }
        for name in [sourceTable, sessionColumn, itemColumn, timeColumn] where !SQLIdentifier.isValid(name) {
            throw ValidationError("'\(name)' is not a valid table or column name: use letters, digits and underscores (schema.table for tables).")
        }
    }

    func settings(asOf: LogicalDate) throws -> NightlySettings {
        var settings = NightlySettings(asOf: asOf)
        settings.mode = mode.mode
        settings.configurationName = config.lowercased()
        settings.configuration = ModelConfiguration.preset(named: config) ?? .srgnn
        settings.epochs = epochs
        settings.finetuneEpochs = finetuneEpochs
        settings.finetuneWindowDays = finetuneWindowDays
        settings.evaluationDays = evaluationDays
        settings.minItemClicks = minItemClicks
        settings.activeWindowHours = activeWindowHours
        settings.topK = topK
        settings.excludeSeen = excludeSeen
        settings.tolerance = tolerance
        settings.seed = seed
        settings.threads = threads
        settings.source = try ClickLogSource(table: sourceTable, sessionColumn: sessionColumn, itemColumn: itemColumn, timeColumn: timeColumn)
        settings.metricsDirectory = metricsDir ?? ProcessInfo.processInfo.environment["DANSER_METRICS_DIR"]
        settings.reportDirectory = reportDir ?? ProcessInfo.processInfo.environment["DANSER_REPORT_DIR"]
        return settings
    }
}

enum TrainingModeOption: String, ExpressibleByArgument, CaseIterable {
    case auto, retrain, finetune

    var mode: TrainingMode { TrainingMode(rawValue: rawValue) ?? .auto }
}

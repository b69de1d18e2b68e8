import DANSeR

/// How a night trains its candidate.
enum TrainingMode: String, Sendable, CaseIterable {
    /// Decide by `TrainingModeRule`.
    case auto
    /// A new model from scratch on all history.
    case retrain
    /// Warm start from the champion on the recent window, at a lower learning rate.
    case finetune
}

/// The documented rule `--mode auto` follows: retrain when there is nothing to fine-tune, when
/// the champion was last fully retrained `retrainEveryDays` or more days ago, when the catalogue
/// grew by more than `maxGrowthForFinetune` since the champion, or when the configuration
/// changed (its name, or what a preset of the same name holds); otherwise fine-tune.
struct TrainingModeRule: Sendable {
    /// Days between full retrains (default 7: a weekly retrain).
    var retrainEveryDays = 7
    /// Largest share of new items a fine-tune absorbs (default 0.10 = 10%).
    var maxGrowthForFinetune = 0.10

    struct Champion: Sendable {
        /// Date of the champion's most recent full retrain (itself or its fine-tune ancestor's).
        var lastRetrainAsOf: LogicalDate
        var itemCount: Int
        var configurationName: String
        /// The configuration it was trained with, when its record holds one.
        var configuration: ModelConfiguration? = nil
    }

    func decide(
        asOf: LogicalDate, champion: Champion?, itemCount: Int, configurationName: String, configuration: ModelConfiguration? = nil
    ) -> (mode: TrainingMode, reason: String) {
        guard let champion else { return (.retrain, "no champion model yet") }
        if champion.configurationName != configurationName {
            return (.retrain, "configuration changed from \(champion.configurationName) to \(configurationName)")
        }
        if var old = champion.configuration, let configuration {
            // A fine-tuned champion holds its fine-tune's rate and schedule.
            old.learningRate = configuration.learningRate
            old.decayStep = configuration.decayStep
            guard old == configuration else {
                return (.retrain, "the \(configurationName) configuration changed from (\(old.summary)) to (\(configuration.summary))")
            }
        }
        let age = asOf.day - champion.lastRetrainAsOf.day
        if age >= Int64(retrainEveryDays) {
            return (.retrain, "last full retrain was \(age) days ago (every \(retrainEveryDays))")
        }
        let growth = Double(itemCount - champion.itemCount) / Double(max(1, champion.itemCount))
        if growth > maxGrowthForFinetune {
            return (.retrain, "catalogue grew by \(Int((growth * 100).rounded()))% (more than \(Int(maxGrowthForFinetune * 100))%)")
        }
        return (.finetune, "champion retrained \(age) day(s) ago, catalogue grew \(Int((growth * 100).rounded()))%")
    }
}

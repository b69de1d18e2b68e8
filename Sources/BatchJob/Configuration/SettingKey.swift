import DANSeR

/// One setting that can come from the configuration file, an environment variable or a
/// command-line flag (flags win, then the environment, then the file, then the built-in default).
struct SettingKey: Sendable, Hashable, CustomStringConvertible {
    /// What a value must look like; checked when the file and the environment are read.
    enum Kind: Sendable, Hashable {
        case text, integer, number, boolean
        case choice([String])
        /// A database connection string: never shown with its password.
        case connection
    }

    /// `section.name` in the configuration file, e.g. `source.table`.
    let key: String
    /// The environment variable, e.g. `DANSER_SOURCE_TABLE`.
    let variable: String
    /// The command-line option, e.g. `--source-table` (booleans also take `--no-...`).
    let flag: String
    /// The value when nothing sets it; nil: unset (the program then decides, e.g. no metrics file).
    let builtIn: String?
    let kind: Kind
    /// What the setting does, in a few words (shown by `danser-batch config`).
    let summary: String

    var description: String { key }
}

extension SettingKey {
    static let databaseURL = SettingKey(key: "database.url", variable: "DATABASE_URL", flag: "--database-url", builtIn: nil, kind: .connection,
        summary: "PostgreSQL URL or key=value string; unset (and no PG* variable): the embedded server")
    static let stateDir = SettingKey(key: "database.state_dir", variable: "DANSER_STATE_DIR", flag: "--state-dir", builtIn: nil, kind: .text,
        summary: "folder of the embedded server")
    static let sqlDir = SettingKey(key: "database.sql_dir", variable: "DANSER_SQL_DIR", flag: "--sql-dir", builtIn: nil, kind: .text,
        summary: "folder of the numbered migrations")

    static let sourceTable = SettingKey(key: "source.table", variable: "DANSER_SOURCE_TABLE", flag: "--source-table",
        builtIn: "danser.click_log", kind: .text, summary: "click source table (schema.table)")
    static let sessionColumn = SettingKey(key: "source.session_column", variable: "DANSER_SESSION_COLUMN", flag: "--session-column",
        builtIn: "session_id", kind: .text, summary: "session id column")
    static let itemColumn = SettingKey(key: "source.item_column", variable: "DANSER_ITEM_COLUMN", flag: "--item-column",
        builtIn: "item_id", kind: .text, summary: "item id column")
    static let timeColumn = SettingKey(key: "source.time_column", variable: "DANSER_TIME_COLUMN", flag: "--time-column",
        builtIn: "event_time", kind: .text, summary: "click time column")

    static let activeWindowHours = SettingKey(key: "scoring.active_window_hours", variable: "DANSER_ACTIVE_WINDOW_HOURS",
        flag: "--active-window-hours", builtIn: "24", kind: .integer, summary: "hours before as-of a scored session must have clicked in")
    static let topK = SettingKey(key: "scoring.top_k", variable: "DANSER_TOP_K", flag: "--top-k", builtIn: "20", kind: .integer,
        summary: "recommendations per session")
    static let excludeSeen = SettingKey(key: "scoring.exclude_seen", variable: "DANSER_EXCLUDE_SEEN", flag: "--exclude-seen",
        builtIn: "false", kind: .boolean, summary: "never recommend items already in the session")
    static let threads = SettingKey(key: "scoring.threads", variable: "DANSER_THREADS", flag: "--threads", builtIn: "2", kind: .integer,
        summary: "threads for training and scoring")

    static let publishStreams = SettingKey(key: "output.publish_streams", variable: "DANSER_PUBLISH_STREAMS", flag: "--publish-streams",
        builtIn: "2", kind: .integer, summary: "connections that write a day's recommendations side by side (1: one table a day, as Citus needs)")
    static let reportDir = SettingKey(key: "output.report_dir", variable: "DANSER_REPORT_DIR", flag: "--report-dir", builtIn: nil, kind: .text,
        summary: "folder of the HTML run reports")
    static let metricsDir = SettingKey(key: "output.metrics_dir", variable: "DANSER_METRICS_DIR", flag: "--metrics-dir", builtIn: nil, kind: .text,
        summary: "folder of the Prometheus textfile danser_batch.prom")
    static let logFormat = SettingKey(key: "output.log_format", variable: "DANSER_LOG_FORMAT", flag: "--log-format", builtIn: "auto",
        kind: .choice(LogFormat.allCases.map(\.rawValue)), summary: "auto, text or json")
    static let logLevel = SettingKey(key: "output.log_level", variable: "DANSER_LOG_LEVEL", flag: "--log-level", builtIn: "info",
        kind: .choice(LogLevel.allCases.map(\.rawValue)), summary: "lowest log level written")

    static let minSessions = SettingKey(key: "audit.min_sessions", variable: "DANSER_MIN_SESSIONS", flag: "--min-sessions", builtIn: "1",
        kind: .integer, summary: "fewest sessions a published day may have")
    static let minRows = SettingKey(key: "audit.min_rows", variable: "DANSER_MIN_ROWS", flag: "--min-rows", builtIn: "1", kind: .integer,
        summary: "fewest rows a published day may have")
    static let maxDayDrop = SettingKey(key: "audit.max_day_drop", variable: "DANSER_MAX_DAY_DROP", flag: "--max-day-drop", builtIn: "0.5",
        kind: .number, summary: "largest drop from the last published day, as a share")
    static let maxFallbackShare = SettingKey(key: "audit.max_fallback_share", variable: "DANSER_MAX_FALLBACK_SHARE",
        flag: "--max-fallback-share", builtIn: "0.5", kind: .number, summary: "largest share of sessions on the popularity fallback")
    static let allowEmptyDay = SettingKey(key: "audit.allow_empty_day", variable: "DANSER_ALLOW_EMPTY_DAY", flag: "--allow-empty-day",
        builtIn: "false", kind: .boolean, summary: "publish a day with no active session")

    static let retryAttempts = SettingKey(key: "retry.attempts", variable: "DANSER_RETRY_ATTEMPTS", flag: "--retry-attempts", builtIn: "8",
        kind: .integer, summary: "attempts of a run through transient database failures")
    static let retryDelay = SettingKey(key: "retry.delay_seconds", variable: "DANSER_RETRY_DELAY_SECONDS", flag: "--retry-delay",
        builtIn: "5", kind: .number, summary: "seconds before the first retry (doubling)")
    static let retryMaxDelay = SettingKey(key: "retry.max_delay_seconds", variable: "DANSER_RETRY_MAX_DELAY_SECONDS",
        flag: "--retry-max-delay", builtIn: "60", kind: .number, summary: "longest wait between retries")

    static let keepDays = SettingKey(key: "retention.keep_days", variable: "DANSER_KEEP_DAYS", flag: "--keep-days", builtIn: nil,
        kind: .integer, summary: "prune: days kept before the newest published day")
    static let keepModels = SettingKey(key: "retention.keep_models", variable: "DANSER_KEEP_MODELS", flag: "--keep-models", builtIn: nil,
        kind: .integer, summary: "prune: newest model versions kept")

    static let mode = SettingKey(key: "training.mode", variable: "DANSER_MODE", flag: "--mode", builtIn: "auto",
        kind: .choice(TrainingModeOption.allCases.map(\.rawValue)), summary: "auto, retrain or finetune")
    static let preset = SettingKey(key: "training.config", variable: "DANSER_MODEL_CONFIG", flag: "--config", builtIn: "danser",
        kind: .choice(["danser", "srgnn"]), summary: "model configuration preset")
    static let epochs = SettingKey(key: "training.epochs", variable: "DANSER_EPOCHS", flag: "--epochs", builtIn: "6", kind: .integer,
        summary: "most epochs of a retrain")
    static let retrainEveryDays = SettingKey(key: "training.retrain_every_days", variable: "DANSER_RETRAIN_EVERY_DAYS",
        flag: "--retrain-every-days", builtIn: "7", kind: .integer, summary: "auto mode retrains once the last retrain is this old")
    static let finetuneEpochs = SettingKey(key: "training.finetune_epochs", variable: "DANSER_FINETUNE_EPOCHS", flag: "--finetune-epochs",
        builtIn: "3", kind: .integer, summary: "most epochs of a fine-tune")
    static let validationFraction = SettingKey(key: "training.validation_fraction", variable: "DANSER_VALIDATION_FRACTION",
        flag: "--validation-fraction", builtIn: "0.1", kind: .number, summary: "share of training sessions held out for validation")
    static let validationDays = SettingKey(key: "training.validation_days", variable: "DANSER_VALIDATION_DAYS", flag: "--validation-days",
        builtIn: nil, kind: .integer, summary: "hold out the last N days instead")
    static let patience = SettingKey(key: "training.patience", variable: "DANSER_PATIENCE", flag: "--patience", builtIn: "2", kind: .integer,
        summary: "epochs without a better validation P@20 + MRR@20 before stopping")
    static let finetuneWindowDays = SettingKey(key: "training.finetune_window_days", variable: "DANSER_FINETUNE_WINDOW_DAYS",
        flag: "--finetune-window-days", builtIn: nil, kind: .integer, summary: "days of clicks a fine-tune trains on (default: a retrain's)")
    static let finetuneRateScale = SettingKey(key: "training.finetune_rate_scale", variable: "DANSER_FINETUNE_RATE_SCALE",
        flag: "--finetune-rate-scale", builtIn: "1", kind: .number, summary: "a fine-tune's learning rate, as a share of the preset's")
    static let finetuneDecayEpochs = SettingKey(key: "training.finetune_decay_epochs", variable: "DANSER_FINETUNE_DECAY_EPOCHS",
        flag: "--finetune-decay-epochs", builtIn: "2", kind: .integer, summary: "a fine-tune's rate decays every N epochs")
    static let finetuneKeep = SettingKey(key: "training.finetune_keep", variable: "DANSER_FINETUNE_KEEP",
        flag: "--finetune-keep", builtIn: "0.3", kind: .number, summary: "share of the champion's weights a fine-tune starts from")
    static let finishDays = SettingKey(key: "training.finish_days", variable: "DANSER_FINISH_DAYS", flag: "--finish-days",
        builtIn: "\(FinishingPass.defaultDays)", kind: .integer,
        summary: "training ends with one pass over the last N days' sessions, kept if better on validation (0: off)")
    static let finishLearningRate = SettingKey(key: "training.finish_learning_rate", variable: "DANSER_FINISH_LEARNING_RATE",
        flag: "--finish-learning-rate", builtIn: "0.0005", kind: .number, summary: "learning rate of the finishing pass")
    static let finishOrder = SettingKey(key: "training.finish_order", variable: "DANSER_FINISH_ORDER", flag: "--finish-order",
        builtIn: FinishOrder.dayByDay.rawValue, kind: .choice(FinishOrder.allCases.map(\.rawValue)),
        summary: "the finishing pass's order: day-by-day (ending on the last day) or shuffled")
    static let evaluationDays = SettingKey(key: "training.evaluation_days", variable: "DANSER_EVALUATION_DAYS", flag: "--evaluation-days",
        builtIn: "1", kind: .integer, summary: "days before as-of held out for evaluation")
    static let minItemClicks = SettingKey(key: "training.min_item_clicks", variable: "DANSER_MIN_ITEM_CLICKS", flag: "--min-item-clicks",
        builtIn: "5", kind: .integer, summary: "rarer items are left out")
    static let tolerance = SettingKey(key: "training.tolerance", variable: "DANSER_TOLERANCE", flag: "--tolerance", builtIn: "0.5",
        kind: .number, summary: "points of P@20/MRR@20 a candidate may trail the champion by")
    static let seed = SettingKey(key: "training.seed", variable: "DANSER_SEED", flag: "--seed", builtIn: "1", kind: .integer,
        summary: "random seed of training")

    static let sampledSoftmaxAbove = SettingKey(key: "training.sampled_softmax_above", variable: "DANSER_SAMPLED_SOFTMAX_ABOVE",
        flag: "--sampled-softmax-above", builtIn: "\(SampledSoftmax.defaultThreshold)", kind: .integer,
        summary: "train with the sampled softmax when the catalogue has more items than this (0: always)")
    static let sampledNegatives = SettingKey(key: "training.sampled_negatives", variable: "DANSER_SAMPLED_NEGATIVES",
        flag: "--sampled-negatives", builtIn: "\(SampledSoftmax.defaultNegatives)", kind: .integer,
        summary: "popularity-sampled negatives per batch of the sampled softmax")
    static let maxTrainingSessions = SettingKey(key: "training.max_sessions", variable: "DANSER_MAX_TRAINING_SESSIONS",
        flag: "--max-training-sessions", builtIn: "\(TrainingSessionCap.defaultLimit)", kind: .integer,
        summary: "most training sessions a night keeps, the most recent")
    static let maxEvaluationSessions = SettingKey(key: "training.max_evaluation_sessions", variable: "DANSER_MAX_EVALUATION_SESSIONS",
        flag: "--max-evaluation-sessions", builtIn: "\(EvaluationSample.defaultLimit)", kind: .integer,
        summary: "most held-out and validation sessions an evaluation reads, an evenly spread sample")
    static let historyDays = SettingKey(key: "training.history_days", variable: "DANSER_HISTORY_DAYS", flag: "--history-days",
        builtIn: "180", kind: .integer, summary: "days of clicks before as-of a night reads at most")
    static let contenders = SettingKey(key: "contest.contenders", variable: "DANSER_CONTENDERS", flag: "--contenders",
        builtIn: "vsknn,stan,sr,slist,blend", kind: .text, summary: "simple models that compete with DANSeR each night (none: off)")
    static let knnMargin = SettingKey(key: "contest.knn_margin", variable: "DANSER_KNN_MARGIN", flag: "--knn-margin", builtIn: "1",
        kind: .number, summary: "MRR@20 points a candidate may trail session kNN by before the night warns")

    static let maxAge = SettingKey(key: "status.max_age_hours", variable: "DANSER_MAX_AGE_HOURS", flag: "--max-age", builtIn: "36",
        kind: .number, summary: "status: hours after which the newest published day is stale")

    /// Every setting, in the order `danser-batch config` prints them.
    static let all: [SettingKey] = [
        databaseURL, stateDir, sqlDir,
        sourceTable, sessionColumn, itemColumn, timeColumn,
        activeWindowHours, topK, excludeSeen, threads,
        publishStreams, reportDir, metricsDir, logFormat, logLevel,
        minSessions, minRows, maxDayDrop, maxFallbackShare, allowEmptyDay,
        retryAttempts, retryDelay, retryMaxDelay,
        keepDays, keepModels,
        mode, retrainEveryDays, preset, epochs, finetuneEpochs, validationFraction, validationDays, patience, finetuneWindowDays, finetuneRateScale, finetuneDecayEpochs, finetuneKeep, finishDays, finishLearningRate, finishOrder, evaluationDays,
        minItemClicks, tolerance, seed, sampledSoftmaxAbove, sampledNegatives, maxTrainingSessions, maxEvaluationSessions, historyDays,
        contenders, knnMargin,
        maxAge,
    ]

    /// Checks `value` against the kind; returns why it does not fit, or nil.
    func problem(with value: String) -> String? {
        switch kind {
        case .text, .connection:
            return value.trimmingCharacters(in: .whitespaces).isEmpty ? "is set but empty" : nil
        case .integer:
            return Int64(value) == nil ? "'\(value)' is not a whole number" : nil
        case .number:
            return Double(value).map { $0.isFinite } == true ? nil : "'\(value)' is not a number"
        case .boolean:
            return Self.boolean(value) == nil ? "'\(value)' is not true or false" : nil
        case .choice(let choices):
            return choices.contains(value.lowercased()) ? nil : "'\(value)' is not one of \(choices.joined(separator: ", "))"
        }
    }

    /// `true/false`, `yes/no`, `on/off`, `1/0`.
    static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: return nil
        }
    }
}

import DANSeR
import FeatureStore

/// Everything a nightly run is configured by, built once from the command line and passed down.
struct NightlySettings: Sendable {
    var asOf: LogicalDate
    /// retrain, finetune, or auto (decided by `modeRule`).
    var mode: TrainingMode = .auto
    var modeRule = TrainingModeRule()
    /// Preset name and its configuration (default danser).
    var configurationName = "danser"
    var configuration = ModelConfiguration.danser
    /// The most recent training sessions held out to choose the epoch on (default 10 %).
    var validationWindow = ValidationWindow.fraction(0.1)
    /// Training stops after this many epochs in a row without a better validation P@20 + MRR@20 (default 2).
    var patience = 2
    /// Most epochs of a full retrain (default 6) and of a fine-tune (default 3).
    var epochs = 6
    var finetuneEpochs = 3
    /// A fine-tune's schedule: the configuration's rate times this for its first epoch, decayed
    /// by the configuration's factor every `finetuneDecayEpochs` (by default two epochs at the
    /// full rate, then a tenth).
    var finetuneRateScale: Float = 1
    var finetuneDecayEpochs = 2
    /// The share of the champion's weights a fine-tune starts from, the rest a fresh
    /// initialization's (see `Model.shrunk`). The replay chose 0.3: the champion itself, trained
    /// again on the sessions it has fitted, overfits them (docs/EXPERIMENTS.md).
    var finetuneKeep = 0.3
    /// Days of clicks before the evaluation window a fine-tune trains on; nil: the days a retrain
    /// reads (`fineTuneDays`).
    var finetuneWindowDays: Int? = nil
    /// Training (a retrain or a fine-tune) ends with this pass over its most recent sessions, kept only when it is better
    /// on validation (default: the last 30 days at 5e-4, day by day; nil: off). See `FinishingPass`.
    var finishingPass: FinishingPass? = FinishingPass()
    var seed: UInt64 = 1
    var threads = 2
    /// Train with the sampled softmax when the catalogue has more items than this (default
    /// `SampledSoftmax.defaultThreshold`; 0: always), drawing `sampledNegatives` popularity
    /// negatives per batch (default `SampledSoftmax.defaultNegatives`).
    var sampledSoftmaxAbove = SampledSoftmax.defaultThreshold
    var sampledNegatives = SampledSoftmax.defaultNegatives
    /// A night trains on at most this many sessions, the most recent by last click (default
    /// `TrainingSessionCap.defaultLimit`); the validation window is carved from those it keeps.
    var maxTrainingSessions = TrainingSessionCap.defaultLimit
    /// Evaluations read at most this many held-out sessions, and validation this many validation
    /// sessions: an evenly spread sample of each (default `EvaluationSample.defaultLimit`).
    var maxEvaluationSessions = EvaluationSample.defaultLimit
    /// The last `evaluationDays` days before as-of are held out for evaluation (default 1).
    var evaluationDays = 1
    /// Items with fewer clicks are left out of training (default 5, as in the benchmarks).
    var minItemClicks = 5
    /// Sessions with a click in the last `activeWindowHours` hours before as-of are scored (default 24).
    var activeWindowHours = 24
    /// Days of clicks before as-of a night reads at most (default 180: all of a Diginetica-sized
    /// log, on which the presets were tuned; see docs/SCALING.md). A fine-tune reads less.
    var historyDays = 180
    /// Score with an approximate top-K (FAISS inverted file) when the model has more items than
    /// this (nil, the default: always exact).
    var approximateAbove: Int?
    /// Inverted-file cells scanned per session by the approximate top-K (default 32).
    var approximateProbes = 32
    /// Recommendations per session (default 20).
    var topK = 20
    /// Connections that write the day side by side (`RecommendationPublisher`, migration 0017).
    var publishStreams = 2
    /// Drop items already in the session from its recommendations (default off, as in the benchmarks).
    var excludeSeen = false
    /// Percentage points a candidate may trail the champion by and still be promoted (default 0.5).
    var tolerance = 0.5
    /// Session kNN compares with at most this many recent sessions (default 500).
    var knnSampleSize = 500
    var source = ClickLogSource()
    /// Where the HTML report and the Prometheus textfile go (nil: not written).
    var reportDirectory: String?
    var metricsDirectory: String?
    /// Run even if the date already succeeded.
    var rerun = false
    /// Which composition of stages runs (`nightly`, `nightly --skip-score`, `score`, a shard).
    var pipeline = Pipeline.nightly(scoring: true)
    /// The floors a day must clear before it is published.
    var dayAudit = DayAuditPolicy()
    /// The simple contenders, the blend and the session-kNN warning margin (see `ContestStage`).
    var contest = ContestSettings.standard
    /// Delete the date's saved training checkpoint (e.g. a corrupt one) and train from the start.
    var discardCheckpoint = false

    /// The ledger's name for this kind of run.
    var command: String { pipeline.command }

    /// The job lease this run needs: the shards of one day's set share it among themselves;
    /// everything else (nightly, rerun, whole-day score) holds it alone.
    var leaseClaim: JobLease.Claim {
        let shard = pipeline.shard
        if shard.count > 1 {
            return JobLease.Claim(.shared(key: "score \(asOf) in \(shard.count) shards"), purpose: "score \(asOf) shard \(shard)")
        }
        return JobLease.Claim(.exclusive, purpose: "\(command) \(asOf)" + (rerun && command == "nightly" ? " rerun" : ""))
    }

    var evaluationStartMicros: Int64 { asOf.adding(days: -evaluationDays).startMicros }

    /// The first day of the history window (`historyDays` before as-of).
    var historyStartMicros: Int64 { asOf.adding(days: -historyDays).startMicros }

    /// Days a fine-tune trains on: `finetuneWindowDays`, or by default the history window's days
    /// before the evaluation days, as a retrain (a fine-tune on the last week alone forgot more
    /// than it learnt: docs/EXPERIMENTS.md, "Fine-tune against retrain").
    var fineTuneDays: Int { finetuneWindowDays ?? max(1, historyDays - evaluationDays) }

    /// The first day a fine-tune trains on (`fineTuneDays` before the evaluation days).
    var fineTuneStartMicros: Int64 { asOf.adding(days: -(evaluationDays + fineTuneDays)).startMicros }

    /// Why the history window cannot hold what the run needs (evaluation and validation days, the
    /// fine-tune window, the active window), or nil when it can.
    var historyWindowProblem: String? {
        var needed = [(days: evaluationDays + 1, what: "--evaluation-days \(evaluationDays) and a day of training")]
        if case .days(let days) = validationWindow {
            needed.append((evaluationDays + days + 1, "--evaluation-days \(evaluationDays), --validation-days \(days) and a day of training"))
        }
        if mode != .retrain, let finetuneWindowDays {
            needed.append((evaluationDays + finetuneWindowDays, "--evaluation-days \(evaluationDays) and --finetune-window-days \(finetuneWindowDays)"))
        }
        needed.append(((activeWindowHours + 23) / 24, "--active-window-hours \(activeWindowHours)"))
        guard let widest = needed.max(by: { $0.days < $1.days }), widest.days > historyDays else { return nil }
        return "--history-days \(historyDays) is shorter than \(widest.what) need (\(widest.days) days): raise --history-days to at least \(widest.days)"
    }

    /// Sessions with a click at or after this time are scored.
    var activeSinceMicros: Int64 { asOf.startMicros - Int64(activeWindowHours) * 3_600_000_000 }
}

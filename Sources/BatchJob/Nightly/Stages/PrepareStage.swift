import DANSeR
import FeatureStore
import Foundation

/// Stage: the split, the vocabulary, the base model and the training mode. The base is the model
/// this date builds on and is compared with, chosen from the date's inputs alone (see `BaseModel`),
/// so a rerun after any interruption decides exactly as the first attempt did.
struct PrepareStage: Stage {
    static let name = StageName.prepare

    struct Output: StageResult {
        /// Nil when there is too little data to train (the base keeps serving).
        var data: PreparedData?
        var base: BaseModel
        /// What the history window held, when the night read the fine-tune window first and then had to retrain.
        var widened: (window: IngestWindow, rowsRead: Int, clicks: Int)?
        var ledgerRecord: [String: Any] {
            var record: [String: Any] = ["base_model": base.record.map { Int($0.version) } ?? NSNull(), "base_reason": base.reason]
            if let data {
                record["mode"] = data.mode.rawValue
                record["mode_reason"] = data.modeReason
                record["items"] = data.split.itemCount
                record["training_sessions"] = data.training.count
                if let before = data.trainingSessionsBeforeCap { record["training_sessions_capped_from"] = before }
                record["evaluation_sessions"] = data.split.test.count
                if let before = data.evaluationSessionsBeforeSample { record["evaluation_sessions_sampled_from"] = before }
            } else {
                record["training"] = "skipped: too little data"
            }
            if let widened {
                record["widened_to"] = widened.window.ledgerRecord
                record["widened_rows_read"] = widened.rowsRead
                record["widened_clicks"] = widened.clicks
            }
            return record
        }
    }

    func callAsFunction(_ read: IngestedClicks, in context: RunContext) throws -> Output {
        let settings = context.settings
        var ingested = read
        var widened: (window: IngestWindow, rowsRead: Int, clicks: Int)?
        /// Reads the history window when the night read only the fine-tune window; false when it has it already.
        func widen(because why: String) throws -> Bool {
            guard ingested.window?.kind == .fineTune else { return false }
            context.logger.info("reading the history window", metadata: ["reason": "\(why)"])
            let window = IngestWindow.history(settings)
            ingested = try IngestStage.read(window, in: context)
            widened = (window, ingested.rowsRead, ingested.clickCount)
            return true
        }
        let base = try BaseModel.choose(for: settings.asOf, registry: context.registry, on: context.connection)
        context.logger.info("base model", metadata: ["model": "\(base.record.map { String($0.version) } ?? "none")", "reason": "\(base.reason)"])
        let stored = try context.vocabularyStore.load(on: context.connection)
        var attempt = Result { try makeSplit(ingested, vocabulary: stored, settings: settings) }
        if case .failure(let error as DANSeRError) = attempt, error.code == .datasetTooSmall,
            try widen(because: "too little data in the fine-tune window")
        {
            attempt = Result { try makeSplit(ingested, vocabulary: stored, settings: settings) }
        }
        var full: SessionSplit<String>
        switch attempt {
        case .success(let split):
            full = split
        case .failure(let error as DANSeRError) where error.code == .datasetTooSmall || error.code == .emptyTestWindow:
            context.logger.warning("too little data to train; the base model keeps serving", metadata: ["reason": "\(error.message)"])
            context.summary.notes.append("Too little data to train: \(error.message)")
            context.summary.trainingSkipped = true
            return Output(data: nil, base: base, widened: widened)
        case .failure(let error):
            throw error
        }
        var mode = settings.mode
        var reason = "asked for on the command line"
        if mode == .auto {
            let baseFacts = try base.record.map { record in
                TrainingModeRule.Champion(
                    lastRetrainAsOf: LogicalDate(day: Int64(try context.registry.lastRetrainAsOfDay(of: record.version, on: context.connection) ?? record.asOfDay)),
                    itemCount: record.itemCount, configurationName: NightlyJob.configurationName(of: record),
                    configuration: NightlyJob.configuration(of: record))
            }
            (mode, reason) = settings.modeRule.decide(
                asOf: settings.asOf, champion: baseFacts, itemCount: full.itemCount,
                configurationName: settings.configurationName, configuration: settings.configuration)
        }
        if mode == .finetune && base.record == nil {
            (mode, reason) = (.retrain, "no base model to fine-tune")
        }
        if mode == .retrain, try widen(because: reason) {
            full = try makeSplit(ingested, vocabulary: stored, settings: settings)
        }
        var training = full.training
        var trainingEndTimes = full.trainingEndTimes
        if mode == .finetune {
            // The recent window only; the vocabulary and the evaluation set stay those of the full split.
            let windowStart = settings.evaluationStartMicros - Int64(settings.fineTuneDays) * 86_400_000_000
            let recent = try? makeSplit(ingested, from: windowStart, vocabulary: full.itemIDs, settings: settings)
            let kept = zip(recent?.training ?? [], recent?.trainingEndTimes ?? [])
                .map { ($0.0.filter { Int($0) <= full.itemCount }, $0.1) }.filter { $0.0.count >= 2 }
            training = kept.map(\.0)
            trainingEndTimes = kept.map(\.1)
            if training.isEmpty {
                (mode, reason) = (.retrain, "no recent sessions to fine-tune on")
                if try widen(because: reason) { full = try makeSplit(ingested, vocabulary: stored, settings: settings) }
                training = full.training
                trainingEndTimes = full.trainingEndTimes
            }
        }
        // A bound on the night's training work: only the most recent sessions, for the candidate and
        // for the contenders and baselines (which fit on the split's), the validation window carved
        // from them later.
        let cap = TrainingSessionCap(limit: settings.maxTrainingSessions)
        let cappedFrom = cap.apply(to: &training, endTimes: &trainingEndTimes)
        let splitCappedFrom = cap.apply(to: &full.training, endTimes: &full.trainingEndTimes)
        var capped = cappedFrom.map { [(before: $0, what: "training sessions")] } ?? []
        if mode == .finetune, let before = splitCappedFrom { capped.append((before, "sessions the contenders and baselines fit on")) }
        for (before, what) in capped {
            context.logger.info("training sessions capped", metadata: [
                "kept": "\(cap.limit)", "sessions": "\(before)", "of": "\(what)",
            ])
            context.summary.notes.append("Kept the \(cap.limit) most recent of \(before) \(what) (--max-training-sessions \(cap.limit)).")
        }
        // A bound on the night's evaluation work: the candidate, the champion and the contenders
        // are all read on the same sample of the held-out sessions.
        let sample = EvaluationSample(limit: settings.maxEvaluationSessions)
        let evaluationSampledFrom = sample.apply(to: &full.test)
        if let before = evaluationSampledFrom {
            context.logger.info("evaluation sessions sampled", metadata: ["kept": "\(sample.limit)", "sessions": "\(before)"])
            context.summary.notes.append(
                "Evaluated on an evenly spread \(sample.limit) of \(before) held-out sessions (--max-evaluation-sessions \(sample.limit)).")
        }
        context.logger.info("training mode", metadata: ["mode": "\(mode.rawValue)", "reason": "\(reason)"])
        context.summary.mode = mode.rawValue
        context.summary.notes.append("Mode \(mode.rawValue): \(reason).")
        // The vocabulary only grows; store the new items before any model that uses them.
        if full.itemCount > stored.count {
            let firstSeen = ingested.firstSeen()
            let newIDs = Array(full.itemIDs[stored.count...])
            try context.connection.withTransaction { connection in
                try context.vocabularyStore.append(newIDs, after: stored.count, firstSeen: newIDs.map { firstSeen[$0] ?? settings.asOf.startMicros }, on: connection)
            }
            context.logger.info("vocabulary extended", metadata: ["new_items": "\(newIDs.count)", "items": "\(full.itemCount)"])
        }
        context.summary.counts["items"] = full.itemCount
        context.summary.counts["new_items"] = full.itemCount - stored.count
        context.summary.counts["training_sessions"] = training.count
        context.summary.counts["evaluation_sessions"] = full.test.count
        let trainedThrough = ingested.clickTime.lazy.filter { [start = settings.evaluationStartMicros] in $0 < start }.max() ?? settings.evaluationStartMicros
        return Output(
            data: PreparedData(
                split: full, training: training, trainingEndTimes: trainingEndTimes, trainingSessionsBeforeCap: cappedFrom,
                evaluationSessionsBeforeSample: evaluationSampledFrom, mode: mode,
                modeReason: reason, base: base.record, trainedThroughMicros: trainedThrough),
            base: base, widened: widened)
    }

    private func makeSplit(
        _ clicks: IngestedClicks, from: Int64? = nil, vocabulary: [String], settings: NightlySettings
    ) throws(DANSeRError) -> SessionSplit<String> {
        try clicks.split(
            from: from, testFrom: settings.evaluationStartMicros, minItemClicks: settings.minItemClicks,
            maxSessionLength: settings.configuration.maxSessionLength, vocabulary: vocabulary)
    }
}

/// The split and decisions the training stage works from.
struct PreparedData {
    var split: SessionSplit<String>
    var training: [Session]
    /// Time of each training session's last click, parallel to `training` (for the validation split).
    var trainingEndTimes: [Int64]
    /// How many training sessions there were before `--max-training-sessions` dropped the oldest
    /// (nil when it dropped none).
    var trainingSessionsBeforeCap: Int?
    /// How many held-out evaluation sessions there were before `--max-evaluation-sessions` took
    /// its sample (nil when it took all of them).
    var evaluationSessionsBeforeSample: Int? = nil
    var mode: TrainingMode
    var modeReason: String
    /// The model a fine-tune starts from and the candidate is compared with (see `BaseModel`).
    var base: ModelRecord?
    /// Time of the latest click the training data may hold (the fine-tune watermark).
    var trainedThroughMicros: Int64
}

/// The model a date builds on: what it fine-tunes from, what its candidate is compared with, and
/// what scores it when its own candidate does not. A function of the date's inputs, never of what
/// an interrupted attempt of the same date already did, and point in time: it has seen no click
/// on or after the date.
///
/// 1. A model already trained for this date recorded its base: that one (a rerun decides as
///    the first attempt did, even after that attempt promoted its candidate).
/// 2. The champion, when it was trained for an earlier date (an ordinary night).
/// 3. Otherwise (a backfill older than the champion): the newest model of an earlier date that
///    served or passed its gate.
struct BaseModel {
    var record: ModelRecord?
    var reason: String

    /// The hyper-parameter key under which a model records its base version.
    static let recordKey = "base_version"

    static func choose(for date: LogicalDate, registry: ModelRegistry, on connection: Connection) throws -> BaseModel {
        let day = Int32(date.day)
        for model in try registry.models(asOfDay: day, on: connection) {
            let hyperparameters = JSON.decodeObject(model.hyperparametersJSON)
            guard hyperparameters.keys.contains(recordKey) else { continue }
            let value = hyperparameters[recordKey]
            guard let version = (value as? Int).map(Int64.init) ?? (value as? NSNumber)?.int64Value else {
                return BaseModel(record: nil, reason: "model \(model.version), trained for this date before, had no base")
            }
            if let record = try registry.record(version: version, on: connection) {
                return BaseModel(record: record, reason: "the base of model \(model.version), trained for this date before")
            }
        }
        let champion = try registry.champion(on: connection)
        if let champion, champion.asOfDay < day {
            return BaseModel(record: champion, reason: "the champion")
        }
        if let earlier = try registry.newestServable(before: day, on: connection) {
            let why = champion.map { "the champion (model \($0.version), as-of \(LogicalDate(day: Int64($0.asOfDay)))) is not older than this date" } ?? "there is no champion"
            return BaseModel(record: earlier, reason: "newest model of an earlier date (\(LogicalDate(day: Int64(earlier.asOfDay)))): \(why)")
        }
        return BaseModel(record: nil, reason: champion == nil ? "no model yet" : "no model of an earlier date")
    }
}

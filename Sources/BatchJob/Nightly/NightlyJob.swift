import DANSeR
import FeatureStore
import Foundation
import Logging

/// The nightly run, stage by stage (lock, ingest, train, evaluate, gate, publish features,
/// score, record), every stage keyed to the logical date. See docs/OPERATIONS.md.
final class NightlyJob {
    let settings: NightlySettings
    let database: ConnectionConfiguration
    let logger: Logger
    let connection: Connection

    private let ledger = RunLedger()
    private let registry = ModelRegistry()
    private let vocabularyStore = ItemVocabularyStore()
    private let features = FeatureRepository()
    private let checkpoints = TrainingCheckpointStore()
    private let publisher = RecommendationPublisher()

    /// What the run found and did, for the ledger, the report and the metrics file.
    private(set) var summary = NightlySummary()

    /// The lease, the ledger row's life and the heartbeat (see RunEnvelope).
    let envelope: RunEnvelope

    init(settings: NightlySettings, database: ConnectionConfiguration, connection: Connection, logger: Logger, envelope: RunEnvelope? = nil) {
        // One level of parallelism: the large products are split over `threads` one-thread sgemms.
        BLAS.setThreadCount(1)
        self.settings = settings
        self.database = database
        self.connection = connection
        self.logger = logger
        self.envelope = envelope ?? RunEnvelope(logger: logger)
        self.envelope.connect(database)
    }

    /// Runs the night; returns the exit status (errors after the ledger row is open are recorded
    /// there, then rethrown).
    func run() throws -> ExitStatus {
        let asOfDay = Int32(settings.asOf.day)
        if let holders = try envelope.acquireLease(settings.leaseClaim, on: connection) {
            let reason = RunEnvelope.describe(holders)
            try envelope.recordSkipped(command: settings.command, asOfDay: asOfDay, reason: reason, on: connection)
            logger.warning("another run holds the job lease; this one did nothing", metadata: ["as_of": "\(settings.asOf)", "holder": "\(reason)"])
            summary.status = "skipped"
            summary.skipReason = reason
            return .skipped
        }
        if !settings.rerun, envelope.runID == nil, let done = try ledger.lastSucceeded(command: settings.command, asOfDay: asOfDay, on: connection) {
            try envelope.recordSkipped(command: settings.command, asOfDay: asOfDay, reason: "already completed by run \(done.runID)", on: connection)
            logger.info("this date already succeeded; nothing to do (use --rerun to recompute)", metadata: ["as_of": "\(settings.asOf)", "run": "\(done.runID)"])
            summary.alreadyDone = done.runID
            return .ok
        }
        let runID = try envelope.openRun(command: settings.command, asOfDay: asOfDay, on: connection)
        summary.runID = runID
        logger.info("\(settings.command) run started", metadata: ["run": "\(runID)", "as_of": "\(settings.asOf)"])
        do {
            try stages(runID: runID)
            summary.status = "succeeded"
        } catch {
            summary.status = (error as? JobError)?.code == .interrupted || (error as? DANSeRError)?.code == .cancelled ? "interrupted" : "failed"
            summary.error = "\(error)"
            try? finishLedger(runID: runID)
            throw error
        }
        try finishLedger(runID: runID)
        return .ok
    }

    // MARK: - Stages

    private func stages(runID: Int64) throws {
        let ingested = try timed("ingest") { try ingest(runID: runID) }
        try ShutdownSignal.check("ingest")
        let prepared = settings.scoreOnly ? nil : try timed("prepare") { try prepare(ingested) }
        try ShutdownSignal.check("prepare")
        var scoringModel: Model?
        var scoringVersion: Int64?
        if let prepared {
            let trained = try timed("train") { try train(prepared, runID: runID) }
            try ShutdownSignal.check("train")
            if let trained {
                let evaluated = try timed("evaluate") { try evaluate(trained, prepared) }
                try ShutdownSignal.check("evaluate")
                (scoringModel, scoringVersion) = try timed("publish_features") { try publishFeatures(trained, evaluated, prepared, runID: runID) }
            } else {
                (scoringModel, scoringVersion) = try reusedChampion()
            }
        }
        if scoringModel == nil, let champion = try registry.champion(on: connection) {
            scoringModel = try loadModel(champion)
            scoringVersion = champion.version
        }
        if settings.skipScore {
            summary.notes.append("Scoring left to score --shard runs (--skip-score).")
            return
        }
        guard let scoringModel, let scoringVersion else {
            throw JobError(.tooLittleData, "there is no model to score with: training was not possible and no champion exists yet")
        }
        try ShutdownSignal.check("publish features")
        try timed("score") { try score(ingested, model: scoringModel, version: scoringVersion, runID: runID) }
    }

    /// Stage 2: every click before as-of, by binary COPY; unusable rows to quarantine.
    private func ingest(runID: Int64) throws -> IngestedClicks {
        var clicks = IngestedClicks()
        let progress = ProgressReporter(label: "ingest", total: nil, unit: "clicks", logger: logger)
        try settings.source.read(on: connection, before: settings.asOf.startMicros) { row in
            switch row {
            case .click(let session, let item, let time):
                clicks.append(session: session, item: item, time: time)
            case .unusable(let reason, let session, let item):
                clicks.unusable.append(QuarantinedRow(
                    source: settings.source.table, lineNumber: nil, reason: reason,
                    rawLine: "\(session ?? "NULL"),\(item ?? "NULL")"))
            }
            progress.advance()
        }
        progress.finish()
        if !clicks.unusable.isEmpty {
            // Every night reads the whole history again: keep each bad row once, count it every night.
            let new = try QuarantineStore().addNew(clicks.unusable, runID: runID, on: connection)
            logger.warning("rows of the click source are unusable and quarantined", metadata: ["rows": "\(clicks.unusable.count)", "new": "\(new)"])
        }
        summary.syntheticData = !clicks.sessionIDs.isEmpty && clicks.sessionIDs.allSatisfy { $0.hasPrefix("synthetic-") }
        summary.counts["clicks"] = clicks.clickCount
        summary.counts["sessions"] = clicks.sessionIDs.count
        summary.counts["quarantined"] = clicks.unusable.count
        logger.info("ingested", metadata: ["clicks": "\(clicks.clickCount)", "sessions": "\(clicks.sessionIDs.count)", "source": "\(settings.source)"])
        return clicks
    }

    /// The split, the vocabulary and the mode. Nil when there is too little data to train (the
    /// champion, if any, keeps serving).
    private func prepare(_ ingested: IngestedClicks) throws -> PreparedData? {
        let stored = try vocabularyStore.load(on: connection)
        let champion = try registry.champion(on: connection)
        let full: SessionSplit<String>
        do {
            full = try makeSplit(ingested.clicks(), vocabulary: stored)
        } catch let error as DANSeRError {
            guard error.code == .datasetTooSmall || error.code == .emptyTestWindow else { throw error }
            logger.warning("too little data to train; the champion keeps serving", metadata: ["reason": "\(error.message)"])
            summary.notes.append("Too little data to train: \(error.message)")
            summary.trainingSkipped = true
            return nil
        }
        var mode = settings.mode
        var reason = "asked for on the command line"
        if mode == .auto {
            let championFacts = try champion.map { record in
                TrainingModeRule.Champion(
                    lastRetrainAsOf: LogicalDate(day: Int64(try registry.lastRetrainAsOfDay(of: record.version, on: connection) ?? record.asOfDay)),
                    itemCount: record.itemCount, configurationName: Self.configurationName(of: record))
            }
            (mode, reason) = settings.modeRule.decide(asOf: settings.asOf, champion: championFacts, itemCount: full.itemCount, configurationName: settings.configurationName)
        }
        if mode == .finetune && champion == nil {
            (mode, reason) = (.retrain, "no champion to fine-tune")
        }
        logger.info("training mode", metadata: ["mode": "\(mode.rawValue)", "reason": "\(reason)"])
        summary.mode = mode.rawValue
        summary.notes.append("Mode \(mode.rawValue): \(reason).")
        var training = full.training
        if mode == .finetune {
            // The recent window only; the vocabulary and the evaluation set stay those of the full split.
            let windowStart = settings.evaluationStartMicros - Int64(settings.finetuneWindowDays) * 86_400_000_000
            let recent = try? makeSplit(ingested.clicks(from: windowStart), vocabulary: full.itemIDs)
            training = recent?.training.map { $0.filter { Int($0) <= full.itemCount } }.filter { $0.count >= 2 } ?? []
            if training.isEmpty {
                (mode, reason) = (.retrain, "no recent sessions to fine-tune on")
                training = full.training
                summary.mode = mode.rawValue
            }
        }
        // The vocabulary only grows; store the new items before any model that uses them.
        if full.itemCount > stored.count {
            let firstSeen = ingested.firstSeen()
            let newIDs = Array(full.itemIDs[stored.count...])
            try connection.withTransaction { connection in
                try vocabularyStore.append(newIDs, after: stored.count, firstSeen: newIDs.map { firstSeen[$0] ?? settings.asOf.startMicros }, on: connection)
            }
            logger.info("vocabulary extended", metadata: ["new_items": "\(newIDs.count)", "items": "\(full.itemCount)"])
        }
        summary.counts["items"] = full.itemCount
        summary.counts["new_items"] = full.itemCount - stored.count
        summary.counts["training_sessions"] = training.count
        summary.counts["evaluation_sessions"] = full.test.count
        let trainedThrough = ingested.clickTime.lazy.filter { [start = settings.evaluationStartMicros] in $0 < start }.max() ?? settings.evaluationStartMicros
        return PreparedData(split: full, training: training, mode: mode, champion: champion, trainedThroughMicros: trainedThrough)
    }

    /// Stage 3. Nil when a model with the same fingerprint was already published for this date
    /// (a rerun after a kill): it is reused, not trained again.
    private func train(_ data: PreparedData, runID: Int64) throws -> TrainedModel? {
        let asOfDay = Int32(settings.asOf.day)
        let epochs = data.mode == .finetune ? settings.finetuneEpochs : settings.epochs
        let fingerprint = self.fingerprint(data, epochs: epochs)
        if let existing = try registry.find(asOfDay: asOfDay, fingerprint: fingerprint, on: connection) {
            logger.info("this night's model was already trained and published; reusing it", metadata: ["model": "\(existing.version)"])
            summary.modelVersion = existing.version
            summary.reusedModel = true
            return nil
        }
        var trainer: Trainer
        var parent: Int64?
        if data.mode == .finetune, let champion = data.champion {
            let base = try loadModel(champion).growing(toItemCount: data.split.itemCount, seed: settings.seed)
            trainer = try Trainer(warmStartFrom: base, learningRateScale: settings.finetuneRateScale, seed: settings.seed, threads: settings.threads)
            parent = champion.version
        } else {
            trainer = try Trainer(configuration: settings.configuration, itemCount: data.split.itemCount, seed: settings.seed, threads: settings.threads)
        }
        if let saved = try checkpoints.load(asOfDay: asOfDay, fingerprint: fingerprint, on: connection) {
            trainer = try Checkpoint(decoding: Data(saved.checkpoint)).makeTrainer(
                expecting: trainer.model.configuration, itemCount: data.split.itemCount, threads: settings.threads)
            logger.notice("resuming training from the checkpoint of a previous attempt", metadata: ["epoch": "\(saved.epoch)"])
            summary.notes.append("Resumed training after epoch \(saved.epoch) of an interrupted attempt.")
        }
        let examples = PrefixSet(sessions: data.training)
        let evaluation = PrefixSet(sessions: data.split.test)
        summary.counts["training_prefixes"] = examples.count
        summary.counts["evaluation_prefixes"] = evaluation.count
        while trainer.completedEpochs < epochs {
            let progress = ProgressReporter(label: "epoch \(trainer.completedEpochs + 1)/\(epochs)", total: Int64(examples.count), unit: "prefixes", logger: logger)
            let epoch = try trainer.trainEpoch(on: examples) { report in
                progress.update(completed: Int64(report.examples))
                return !ShutdownSignal.isRequested
            }
            progress.finish()
            let result = Evaluator.evaluate(trainer.model, on: evaluation, threads: settings.threads)
            summary.epochs.append(RunReport.EpochRow(epoch: epoch.epoch + 1, loss: epoch.meanLoss, precisionAt20: result.precision(at: 20) * 100, mrrAt20: result.reciprocalRank(at: 20) * 100))
            logger.info("epoch done", metadata: [
                "epoch": "\(epoch.epoch + 1)", "loss": "\(String(format: "%.4f", epoch.meanLoss))",
                "p20": "\(String(format: "%.2f", result.precision(at: 20) * 100))", "mrr20": "\(String(format: "%.2f", result.reciprocalRank(at: 20) * 100))",
            ])
            try checkpoints.save(asOfDay: asOfDay, fingerprint: fingerprint, epoch: trainer.completedEpochs, checkpoint: Array(Checkpoint(trainer).encoded()), runID: runID, on: connection)
        }
        return TrainedModel(trainer: trainer, parent: parent, fingerprint: fingerprint, epochs: epochs)
    }

    /// Stage 4: candidate, champion and two baselines on the same held-out window.
    private func evaluate(_ trained: TrainedModel, _ data: PreparedData) throws -> Evaluation {
        let examples = PrefixSet(sessions: data.split.test)
        var evaluation = Evaluation()
        evaluation.rows.append(.init(name: "candidate", Evaluator.evaluate(trained.trainer.model, on: examples, threads: settings.threads)))
        if let champion = data.champion {
            // New items get fresh rows, as a fine-tune would start from; ids never move.
            let model = try loadModel(champion).growing(toItemCount: data.split.itemCount, seed: settings.seed)
            let result = Evaluator.evaluate(model, on: examples, threads: settings.threads)
            evaluation.rows.append(.init(name: "champion", result))
            evaluation.champion = PromotionGate.Scores(precisionAt20: result.precision(at: 20) * 100, mrrAt20: result.reciprocalRank(at: 20) * 100)
        }
        evaluation.rows.append(.init(name: "popularity", PopularityBaseline(training: data.split.training, itemCount: data.split.itemCount).evaluate(on: examples)))
        evaluation.rows.append(.init(name: "session kNN", SessionKNN(training: data.split.training, itemCount: data.split.itemCount, sampleSize: settings.knnSampleSize).evaluate(on: examples)))
        for row in evaluation.rows {
            logger.info("evaluated", metadata: ["model": "\(row.name)", "p20": "\(String(format: "%.2f", row.precisionAt20))", "mrr20": "\(String(format: "%.2f", row.mrrAt20))"])
        }
        summary.comparison = evaluation.rows
        return evaluation
    }

    /// Stages 5 and 6 in one transaction: the model, its embeddings and statistics, and the
    /// gate's verdict appear together or not at all.
    private func publishFeatures(_ trained: TrainedModel, _ evaluation: Evaluation, _ data: PreparedData, runID: Int64) throws -> (Model?, Int64?) {
        let candidate = evaluation.rows[0]
        let verdict = PromotionGate(tolerance: settings.tolerance).decide(
            candidate: .init(precisionAt20: candidate.precisionAt20, mrrAt20: candidate.mrrAt20), champion: evaluation.champion)
        let model = trained.trainer.model
        let embeddings = model.itemEmbeddings
        let statistics = BehaviourStatistics(training: data.split.training, itemCount: data.split.itemCount)
            .withLearnedScalars(of: model)
        let checkpoint = Array(Checkpoint(trained.trainer).encoded())
        let asOfDay = Int32(settings.asOf.day)
        let version = try connection.withTransaction { connection -> Int64 in
            let version = try registry.insert(
                parentVersion: trained.parent, mode: data.mode == .finetune ? "fine-tune" : "retrain", asOfDay: asOfDay,
                trainedThroughMicros: data.trainedThroughMicros, itemCount: model.itemCount, dim: embeddings.dim,
                hyperparametersJSON: JSON.encode(hyperparameters(trained)), metricsJSON: JSON.encode(evaluation.json),
                fingerprint: trained.fingerprint, checkpoint: checkpoint, runID: runID, on: connection)
            summary.embeddingBytes = try features.saveEmbeddings(embeddings.table, rows: embeddings.rows, dim: embeddings.dim, version: version, on: connection)
            try features.saveStatistics(
                NormalizationStatisticsRecord(
                    clickCounts: statistics.clickCounts, logPriors: statistics.logPriors, totalClicks: statistics.totalClicks,
                    sessionPriorMean: statistics.sessionPriorMean, sessionPriorSD: statistics.sessionPriorSD,
                    learnedScalarsJSON: JSON.encode(statistics.learnedScalars)),
                version: version, on: connection)
            if verdict.promote {
                try registry.promote(version: version, reason: verdict.reason, on: connection)
            } else {
                try registry.reject(version: version, reason: verdict.reason, on: connection)
            }
            try checkpoints.delete(asOfDay: asOfDay, fingerprint: trained.fingerprint, on: connection)
            return version
        }
        summary.modelVersion = version
        summary.promoted = verdict.promote
        summary.notes.append((verdict.promote ? "Promoted model \(version): " : "Rejected model \(version), the champion keeps serving: ") + verdict.reason + ".")
        logger.info(verdict.promote ? "candidate promoted" : "candidate rejected", metadata: ["model": "\(version)", "reason": "\(verdict.reason)"])
        summary.metrics = evaluation.json
        return verdict.promote ? (model, version) : (nil, nil)
    }

    /// A rerun that found its model already published scores with the current champion.
    private func reusedChampion() throws -> (Model?, Int64?) {
        guard let champion = try registry.champion(on: connection) else { return (nil, nil) }
        if let version = summary.modelVersion, let record = try registry.record(version: version, on: connection) {
            summary.metrics = JSON.decodeObject(record.metricsJSON)
            summary.promoted = record.status == "champion"
        }
        return (try loadModel(champion), champion.version)
    }

    /// Stage 7: top-K for every session active in the window, staged, audited, swapped in.
    private func score(_ ingested: IngestedClicks, model: Model, version: Int64, runID: Int64) throws {
        let day = Int32(settings.asOf.day)
        let since = settings.asOf.startMicros - Int64(settings.activeWindowHours) * 3_600_000_000
        let active = ingested.activeSessions(since: since).filter { settings.shard.contains(sessionID: $0.id) }
        let vocabulary = try vocabularyStore.load(on: connection)
        var denseID = [String: Int32](minimumCapacity: vocabulary.count)
        for (index, item) in vocabulary.enumerated() where index < model.itemCount { denseID[item] = Int32(index + 1) }
        let sessions: [Session] = active.map { $0.items.compactMap { denseID[$0] } }
        let fallback = PopularityFallback(ingested: ingested, denseID: denseID, k: settings.topK)
        var audit = RecommendationAudit(k: settings.topK, catalogueSize: model.itemCount, excludesSeen: settings.excludeSeen)
        var recommender = Recommender(model: model)
        recommender.threads = settings.threads
        var observer = RecommendationObserver(itemCount: model.itemCount, popularity: fallback.clicks)
        let sharded = settings.shard.count > 1
        let staging = sharded
            ? try publisher.createShardStaging(day: day, shard: settings.shard.index, of: settings.shard.count, on: connection)
            : try publisher.createStaging(day: day, on: connection)
        Self.holdForFaultTests("DANSER_TEST_HOLD_SCORING_SECONDS")
        let progress = ProgressReporter(label: "score", total: Int64(sessions.count), unit: "sessions", logger: logger)
        try publisher.copy(into: staging, day: day, modelVersion: version, runID: runID, on: connection) { write in
            try recommender.topK(sessions, k: settings.topK, excludeSeen: settings.excludeSeen) { first, results in
                try ShutdownSignal.check("scoring")
                var rows: [RecommendationRow] = []
                rows.reserveCapacity(results.count * settings.topK)
                for (offset, list) in results.enumerated() {
                    let sessionID = active[first + offset].id
                    let seen: Set<Int32> = settings.excludeSeen ? Set(sessions[first + offset]) : []
                    let chosen = list.isEmpty ? fallback.recommend(excluding: seen) : list
                    audit.record(session: sessionID, rows: chosen.enumerated().map { (rank: $0.offset + 1, item: $0.element.item, score: $0.element.score) })
                    observer.observe(chosen, fallback: list.isEmpty)
                    for (rank, recommendation) in chosen.enumerated() {
                        rows.append(RecommendationRow(sessionID: sessionID, rank: Int16(rank + 1), itemID: vocabulary[Int(recommendation.item) - 1], score: recommendation.score))
                    }
                }
                try write(rows)
                progress.advance(by: Int64(results.count))
            }
        }
        progress.finish()
        audit.checkWritten(rows: try publisher.rowCount(of: staging, on: connection))
        guard audit.passed else {
            throw JobError(.auditFailed, "the night's recommendations failed their audit and were not published: " + audit.problems.prefix(5).joined(separator: "; "))
        }
        try ShutdownSignal.check("scoring")
        var remainingShards = 0
        try connection.withTransaction { connection in
            if sharded {
                remainingShards = try publisher.completeShard(
                    day: day, shard: settings.shard.index, of: settings.shard.count, runID: runID, modelVersion: version,
                    sessions: audit.sessions, rows: audit.rows, on: connection)
            } else {
                try publisher.publish(day: day, runID: runID, modelVersion: version, sessions: audit.sessions, on: connection)
            }
        }
        if sharded {
            summary.notes.append(remainingShards == 0
                ? "Shard \(settings.shard) completed the set: the day was published."
                : "Shard \(settings.shard) staged; waiting for \(remainingShards) more shard(s) before the day is published.")
            logger.info("shard staged", metadata: ["shard": "\(settings.shard)", "remaining": "\(remainingShards)"])
        }
        summary.scoringVersion = version
        summary.counts["sessions_scored"] = audit.sessions
        summary.counts["recommendation_rows"] = audit.rows
        summary.counts["fallback_sessions"] = observer.fallbackSessions
        summary.scores = observer.sampledScores
        summary.coverage = observer.coverage
        summary.popularityDeciles = observer.popularityDeciles
        if active.isEmpty { summary.notes.append("No session was active in the last \(settings.activeWindowHours) hours: an empty result was published.") }
        logger.info(sharded && remainingShards > 0 ? "recommendations staged" : "recommendations published", metadata: ["sessions": "\(audit.sessions)", "rows": "\(audit.rows)", "model": "\(version)"])
    }

    // MARK: - Pieces

    private func makeSplit(_ clicks: [Click<Int32, String>], vocabulary: [String]) throws -> SessionSplit<String> {
        try SessionSplit(
            clicks: clicks, testFrom: settings.evaluationStartMicros, minItemClicks: settings.minItemClicks,
            maxSessionLength: settings.configuration.maxSessionLength, vocabulary: vocabulary)
    }

    private func finishLedger(runID: Int64) throws {
        try ledger.finish(
            runID: runID, status: summary.status, modelVersion: summary.scoringVersion ?? summary.modelVersion,
            rowCountsJSON: JSON.encode(summary.counts), timingsJSON: JSON.encode(summary.timings.reduce(into: [String: Double]()) { $0[$1.stage] = $1.seconds }),
            metricsJSON: JSON.encode(summary.metrics), error: summary.error, reportPath: summary.reportPath, stage: RunStage.current, on: connection)
    }

    private func timed<T>(_ stage: String, _ body: () throws -> T) throws -> T {
        let start = Date()
        RunStage.enter(stage)
        defer { summary.timings.append((stage, Date().timeIntervalSince(start))) }
        return try body()
    }

    func loadModel(_ record: ModelRecord) throws -> Model {
        try Checkpoint(decoding: Data(try registry.checkpoint(version: record.version, on: connection))).makeModel()
    }

    /// What determines the model: a rerun with the same fingerprint reuses it. The champion is
    /// left out on purpose: a killed run may already have promoted its candidate, and the
    /// parent of a night's fine-tune is always the previous night's champion.
    private func fingerprint(_ data: PreparedData, epochs: Int) -> String {
        let parts: [String] = [
            settings.asOf.description, data.mode.rawValue, settings.configurationName, JSON.encode(settings.configuration),
            "\(epochs)", "\(settings.seed)", "\(settings.evaluationDays)", "\(settings.minItemClicks)", "\(settings.finetuneWindowDays)",
            "\(settings.finetuneRateScale)", "\(data.split.itemCount)", "\(data.training.count)",
        ]
        return String(ShardSpec.hash(parts.joined(separator: "|")), radix: 16)
    }

    private func hyperparameters(_ trained: TrainedModel) -> [String: Any] {
        [
            "configuration_name": settings.configurationName,
            "configuration": JSON.decodeObject(JSON.encode(trained.trainer.model.configuration)),
            "epochs": trained.epochs, "seed": Int(truncatingIfNeeded: settings.seed), "evaluation_days": settings.evaluationDays,
            "min_item_clicks": settings.minItemClicks,
        ]
    }

    static func configurationName(of record: ModelRecord) -> String {
        (JSON.decodeObject(record.hyperparametersJSON)["configuration_name"] as? String) ?? "srgnn"
    }

    static var host: String { ProcessInfo.processInfo.hostName }

    /// Fault-injection hook for the kill tests: sleeps the given seconds at a stage's riskiest
    /// point (set only by tests; unset in production, where it costs one lookup).
    static func holdForFaultTests(_ variable: String) {
        if let text = ProcessInfo.processInfo.environment[variable], let seconds = Double(text), seconds > 0 {
            Thread.sleep(forTimeInterval: min(seconds, 600))
        }
    }
}

/// The split and decisions the training stage works from.
struct PreparedData {
    var split: SessionSplit<String>
    var training: [Session]
    var mode: TrainingMode
    var champion: ModelRecord?
    /// Time of the latest click the training data may hold (the fine-tune watermark).
    var trainedThroughMicros: Int64
}

struct TrainedModel {
    var trainer: Trainer
    var parent: Int64?
    var fingerprint: String
    var epochs: Int
}

/// Scores of every contender on the evaluation window, in percent.
struct Evaluation {
    var rows: [RunReport.Comparison] = []
    var champion: PromotionGate.Scores?

    var json: [String: Any] {
        var object: [String: Any] = [:]
        for row in rows {
            let key = row.name.replacingOccurrences(of: " ", with: "_")
            object[key] = ["p@20": row.precisionAt20, "mrr@20": row.mrrAt20, "p@10": row.precisionAt10, "mrr@10": row.mrrAt10]
        }
        return object
    }
}

extension RunReport.Comparison {
    init(name: String, _ result: EvaluationResult) {
        self.init(
            name: name, precisionAt20: result.precision(at: 20) * 100, mrrAt20: result.reciprocalRank(at: 20) * 100,
            precisionAt10: result.precision(at: 10) * 100, mrrAt10: result.reciprocalRank(at: 10) * 100)
    }
}

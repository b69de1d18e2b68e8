import DANSeR
import FeatureStore
import Foundation

/// Stage: in one transaction, the model row (with its checkpoint, settings, base and metrics),
/// its embeddings and normalization statistics, and the gate's verdict: all or nothing.
struct PublishFeaturesStage: Stage {
    static let name = StageName.publishFeatures

    struct Output: StageResult {
        var version: Int64
        var model: Model
        var status: ModelStatus
        var ledgerRecord: [String: Any] { ["model": Int(version), "status": status.rawValue] }
    }

    func callAsFunction(
        _ input: (trained: TrainedModel, evaluation: Evaluation, verdict: GateStage.Output, data: PreparedData), in context: RunContext
    ) throws -> Output {
        let (trained, evaluation, verdict, data) = input
        let settings = context.settings
        let model = trained.trainer.model
        let embeddings = model.itemEmbeddings
        let statistics = BehaviourStatistics(training: data.split.training, itemCount: data.split.itemCount)
            .withLearnedScalars(of: model)
        let checkpoint = Array(Checkpoint(trained.trainer).encoded())
        let asOfDay = Int32(settings.asOf.day)
        var hyperparameters = Self.hyperparameters(trained, settings: settings)
        hyperparameters[BaseModel.recordKey] = data.base.map { Int($0.version) } ?? NSNull()
        let status: ModelStatus = verdict.promote ? .champion : verdict.passed ? .candidate : .rejected
        let version = try context.connection.withTransaction { connection -> Int64 in
            let version = try context.registry.insert(
                parentVersion: trained.parent, mode: data.mode == .finetune ? .fineTune : .retrain, asOfDay: asOfDay,
                trainedThroughMicros: data.trainedThroughMicros, itemCount: model.itemCount, dim: embeddings.dim,
                hyperparametersJSON: JSON.encode(hyperparameters), metricsJSON: JSON.encode(evaluation.json),
                fingerprint: trained.fingerprint, checkpoint: checkpoint, runID: context.runID, on: connection)
            context.summary.embeddingBytes = try context.features.saveEmbeddings(embeddings.table, rows: embeddings.rows, dim: embeddings.dim, version: version, on: connection)
            try context.features.saveStatistics(
                NormalizationStatisticsRecord(
                    clickCounts: statistics.clickCounts, logPriors: statistics.logPriors, totalClicks: statistics.totalClicks,
                    sessionPriorMean: statistics.sessionPriorMean, sessionPriorSD: statistics.sessionPriorSD,
                    learnedScalarsJSON: JSON.encode(statistics.learnedScalars)),
                version: version, on: connection)
            let change = RegistryChange.gate(verdict.reason, runID: context.runID)
            switch status {
            case .champion: try context.registry.promote(version: version, change: change, on: connection)
            case .candidate: try context.registry.keepCandidate(version: version, change: change, on: connection)
            default: try context.registry.reject(version: version, change: change, on: connection)
            }
            try context.checkpoints.delete(asOfDay: asOfDay, fingerprint: trained.fingerprint, on: connection)
            try context.checkpoints.delete(asOfDay: asOfDay, fingerprint: trained.fingerprint + ".best", on: connection)
            return version
        }
        context.summary.modelVersion = version
        context.summary.promoted = verdict.promote
        let note: String
        switch status {
        case .champion: note = "Promoted model \(version): "
        case .candidate: note = "Model \(version) passed the gate and scores this date: "
        default: note = "Rejected model \(version), the base model keeps serving: "
        }
        context.summary.notes.append(note + verdict.reason + ".")
        context.logger.info(verdict.promote ? "candidate promoted" : verdict.passed ? "candidate kept" : "candidate rejected", metadata: ["model": "\(version)", "reason": "\(verdict.reason)"])
        context.summary.metrics = evaluation.json
        return Output(version: version, model: model, status: status)
    }

    static func hyperparameters(_ trained: TrainedModel, settings: NightlySettings) -> [String: Any] {
        [
            "configuration_name": settings.configurationName,
            "configuration": JSON.decodeObject(JSON.encode(trained.trainer.model.configuration)),
            "epochs": trained.epochsKept, "max_epochs": trained.maxEpochs, "epochs_trained": trained.epochsTrained, "seed": Int(truncatingIfNeeded: settings.seed), "evaluation_days": settings.evaluationDays,
            "min_item_clicks": settings.minItemClicks, "finetune_window_days": settings.fineTuneDays,
            "validation": "\(settings.validationWindow)", "patience": settings.patience,
            // How a fine-tune started: the share of its parent's weights (the rest a fresh initialization's).
            "finetune_keep": trained.parent == nil ? NSNull() : settings.finetuneKeep,
            // The finishing pass: its days (0: off) and rate, and whether validation kept it.
            "finish_days": settings.finishingPass?.days ?? 0,
            "finish_learning_rate": settings.finishingPass.map { Double($0.learningRate) as Any } ?? NSNull(),
            "finish_order": settings.finishingPass.map { FinishOrder(of: $0).rawValue as Any } ?? NSNull(),
            "finished": trained.finished,
            "source": [
                "table": settings.source.table, "session_column": settings.source.sessionColumn,
                "item_column": settings.source.itemColumn, "time_column": settings.source.timeColumn,
            ],
        ]
    }
}

import DANSeR
import FeatureStore
import Foundation

/// Stage: trains the candidate (retrain, or fine-tune from the base), saving a checkpoint after
/// every epoch so a killed run resumes. A model with the same fingerprint already published for
/// this date (a rerun after a kill) is reused, not trained again.
struct TrainStage: Stage {
    static let name = StageName.train

    enum Output: StageResult {
        case trained(TrainedModel)
        case reused(ModelRecord)

        var ledgerRecord: [String: Any] {
            switch self {
            case .trained(let model): return ["trained": true, "epochs": model.epochs, "fingerprint": model.fingerprint, "parent": model.parent.map { Int($0) } ?? NSNull()]
            case .reused(let record): return ["trained": false, "reused_model": Int(record.version), "status": record.status]
            }
        }
    }

    func callAsFunction(_ data: PreparedData, in context: RunContext) throws -> Output {
        let settings = context.settings
        let asOfDay = Int32(settings.asOf.day)
        let epochs = data.mode == .finetune ? settings.finetuneEpochs : settings.epochs
        let fingerprint = Self.fingerprint(data, epochs: epochs, settings: settings)
        if let existing = try context.registry.find(asOfDay: asOfDay, fingerprint: fingerprint, on: context.connection) {
            context.logger.info("this night's model was already trained and published; reusing it", metadata: ["model": "\(existing.version)"])
            context.summary.modelVersion = existing.version
            context.summary.reusedModel = true
            context.summary.metrics = JSON.decodeObject(existing.metricsJSON)
            context.summary.promoted = existing.status == "champion"
            return .reused(existing)
        }
        var trainer: Trainer
        var parent: Int64?
        if data.mode == .finetune, let base = data.base {
            let model = try context.loadModel(base).growing(toItemCount: data.split.itemCount, seed: settings.seed)
            trainer = try Trainer(warmStartFrom: model, learningRateScale: settings.finetuneRateScale, seed: settings.seed, threads: settings.threads)
            parent = base.version
        } else {
            trainer = try Trainer(configuration: settings.configuration, itemCount: data.split.itemCount, seed: settings.seed, threads: settings.threads)
        }
        if let saved = try context.checkpoints.load(asOfDay: asOfDay, fingerprint: fingerprint, on: context.connection) {
            trainer = try Checkpoint(decoding: Data(saved.checkpoint)).makeTrainer(
                expecting: trainer.model.configuration, itemCount: data.split.itemCount, threads: settings.threads)
            context.logger.notice("resuming training from the checkpoint of a previous attempt", metadata: ["epoch": "\(saved.epoch)"])
            context.summary.notes.append("Resumed training after epoch \(saved.epoch) of an interrupted attempt.")
        }
        let examples = PrefixSet(sessions: data.training)
        let evaluation = PrefixSet(sessions: data.split.test)
        context.summary.counts["training_prefixes"] = examples.count
        context.summary.counts["evaluation_prefixes"] = evaluation.count
        while trainer.completedEpochs < epochs {
            let progress = ProgressReporter(label: "epoch \(trainer.completedEpochs + 1)/\(epochs)", total: Int64(examples.count), unit: "prefixes", logger: context.logger)
            let epoch = try trainer.trainEpoch(on: examples) { report in
                progress.update(completed: Int64(report.examples))
                return !ShutdownSignal.isRequested
            }
            progress.finish()
            let result = Evaluator.evaluate(trainer.model, on: evaluation, threads: settings.threads)
            context.summary.epochs.append(RunReport.EpochRow(epoch: epoch.epoch + 1, loss: epoch.meanLoss, precisionAt20: result.precision(at: 20) * 100, mrrAt20: result.reciprocalRank(at: 20) * 100))
            context.logger.info("epoch done", metadata: [
                "epoch": "\(epoch.epoch + 1)", "loss": "\(String(format: "%.4f", epoch.meanLoss))",
                "p20": "\(String(format: "%.2f", result.precision(at: 20) * 100))", "mrr20": "\(String(format: "%.2f", result.reciprocalRank(at: 20) * 100))",
            ])
            try context.checkpoints.save(
                asOfDay: asOfDay, fingerprint: fingerprint, epoch: trainer.completedEpochs, checkpoint: Array(Checkpoint(trainer).encoded()),
                runID: context.runID, on: context.connection)
        }
        return .trained(TrainedModel(trainer: trainer, parent: parent, fingerprint: fingerprint, epochs: epochs))
    }

    /// What determines the model: a rerun with the same fingerprint reuses it. The base is part
    /// of it: it is chosen from the date's inputs (see `BaseModel`), so a rerun finds the same one.
    static func fingerprint(_ data: PreparedData, epochs: Int, settings: NightlySettings) -> String {
        let parts: [String] = [
            settings.asOf.description, data.mode.rawValue, settings.configurationName, JSON.encode(settings.configuration),
            "\(epochs)", "\(settings.seed)", "\(settings.evaluationDays)", "\(settings.minItemClicks)", "\(settings.finetuneWindowDays)",
            "\(settings.finetuneRateScale)", "\(data.split.itemCount)", "\(data.training.count)", "base \(data.base.map { String($0.version) } ?? "none")",
        ]
        return String(ShardSpec.hash(parts.joined(separator: "|")), radix: 16)
    }
}

struct TrainedModel {
    var trainer: Trainer
    var parent: Int64?
    var fingerprint: String
    var epochs: Int
}

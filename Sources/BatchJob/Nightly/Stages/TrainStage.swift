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
            case .trained(let model):
                return [
                    "trained": true, "max_epochs": model.maxEpochs, "epochs_trained": model.epochsTrained, "epochs_kept": model.epochsKept, "finished": model.finished,
                    "fingerprint": model.fingerprint, "parent": model.parent.map { Int($0) } ?? NSNull(),
                    "softmax": model.trainer.sampling.map { "sampled (\($0.negatives) negatives)" } ?? "full",
                ]
            case .reused(let record): return ["trained": false, "reused_model": Int(record.version), "status": record.status.rawValue]
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
            context.summary.promoted = existing.status == .champion
            return .reused(existing)
        }
        var trainer: Trainer
        var parent: Int64?
        var warmStart: Model?
        if data.mode == .finetune, let base = data.base {
            let model = try context.loadModel(base).growing(toItemCount: data.split.itemCount, seed: settings.seed)
            // A share of the configuration's rate: the champion's own may already be a fine-tune's.
            let rate = settings.configuration.learningRate * settings.finetuneRateScale
            trainer = try Trainer(
                warmStartFrom: model, learningRate: rate, decayStep: settings.finetuneDecayEpochs, seed: settings.seed, threads: settings.threads)
            // The champion competes as epoch 0; training starts from part of it (--finetune-keep).
            warmStart = trainer.model
            try trainer.rewind(to: trainer.model.shrunk(keeping: Float(settings.finetuneKeep), seed: settings.seed), completedEpochs: 0)
            parent = base.version
        } else {
            trainer = try Trainer(configuration: settings.configuration, itemCount: data.split.itemCount, seed: settings.seed, threads: settings.threads)
        }
        let sampling = SampledSoftmax.forCatalogue(
            itemCount: data.split.itemCount, threshold: settings.sampledSoftmaxAbove, negatives: settings.sampledNegatives)
        var resumed = false
        if settings.discardCheckpoint {
            try context.checkpoints.delete(asOfDay: asOfDay, fingerprint: fingerprint, on: context.connection)
            try context.checkpoints.delete(asOfDay: asOfDay, fingerprint: fingerprint + ".best", on: context.connection)
            context.summary.notes.append("Discarded the saved training checkpoint (--discard-checkpoint); trained from the start.")
        }
        if let saved = try context.checkpoints.load(asOfDay: asOfDay, fingerprint: fingerprint, on: context.connection) {
            trainer = try TrainingCheckpointStore.resume(settings.asOf.description) {
                try Checkpoint(decoding: Data(saved.checkpoint)).makeTrainer(
                    expecting: trainer.model.configuration, itemCount: data.split.itemCount, threads: settings.threads)
            }
            resumed = true
            context.logger.notice("resuming training from the checkpoint of a previous attempt", metadata: ["epoch": "\(saved.epoch)"])
            context.summary.notes.append("Resumed training after epoch \(saved.epoch) of an interrupted attempt.")
        }
        // The epoch is chosen on the most recent training sessions; the evaluation days stay for the gate.
        var fit = data.training
        var held: [Session] = []
        do {
            let split = try ValidationSplit(training: data.training, endTimes: data.trainingEndTimes, window: settings.validationWindow)
            (fit, held) = (split.fit, split.validation)
        } catch {
            guard error.code == .datasetTooSmall else { throw error }
            context.summary.notes.append("No validation split (\(error.message)): \(epochs) epoch(s) trained on every training session.")
        }
        let sample = EvaluationSample(limit: settings.maxEvaluationSessions)
        if let before = sample.apply(to: &held) {
            context.summary.notes.append(
                "Chose epochs on an evenly spread \(sample.limit) of \(before) validation sessions (--max-evaluation-sessions \(sample.limit)).")
        }
        let examples = PrefixSet(sessions: fit)
        let validation = PrefixSet(sessions: held)
        trainer.sampling = sampling
        if let sampling {
            context.summary.notes.append(
                "Sampled softmax: \(data.split.itemCount) items is more than --sampled-softmax-above \(settings.sampledSoftmaxAbove); "
                    + "each batch scores its own targets and \(sampling.negatives) popularity-sampled items, with the logQ correction.")
        }
        context.summary.counts["training_prefixes"] = examples.count
        context.summary.counts["validation_prefixes"] = validation.count
        context.summary.counts["evaluation_prefixes"] = PrefixSet(sessions: data.split.test).count
        context.summary.notes.append(
            "Model \(NightlyJob.configurationName(of: trainer.model.configuration, named: settings.configurationName)): \(trainer.model.configuration.summary).")
        var selection = EpochSelection(patience: settings.patience)
        // The best epoch so far is kept as a checkpoint of its own, so a resumed run chooses as an uninterrupted one would.
        let bestKey = fingerprint + ".best"
        if validation.count > 0 {
            if let warmStart {
                // The champion itself competes: a fine-tune that does not help on validation is not kept.
                selection.record(epoch: 0, validation: Evaluator.evaluate(warmStart, on: validation, threads: settings.threads), model: warmStart)
            }
            if resumed, let saved = try context.checkpoints.load(asOfDay: asOfDay, fingerprint: bestKey, on: context.connection) {
                let best = try TrainingCheckpointStore.resume(settings.asOf.description) {
                    try Checkpoint(decoding: Data(saved.checkpoint)).makeTrainer(
                        expecting: trainer.model.configuration, itemCount: data.split.itemCount, threads: settings.threads).model
                }
                selection.record(epoch: saved.epoch, validation: Evaluator.evaluate(best, on: validation, threads: settings.threads), model: best)
            }
            if resumed { selection.resume(after: trainer.completedEpochs) }
        }
        while trainer.completedEpochs < epochs, !selection.shouldStop {
            let progress = ProgressReporter(label: "epoch \(trainer.completedEpochs + 1)/\(epochs)", total: Int64(examples.count), unit: "prefixes", logger: context.logger)
            let epoch = try trainer.trainEpoch(on: examples) { report in
                progress.update(completed: Int64(report.examples))
                return !ShutdownSignal.isRequested
            }
            progress.finish()
            var best = false
            if validation.count > 0 {
                let result = Evaluator.evaluate(trainer.model, on: validation, threads: settings.threads)
                best = selection.record(epoch: epoch.epoch + 1, validation: result, model: trainer.model)
                context.summary.epochs.append(RunReport.EpochRow(epoch: epoch.epoch + 1, loss: epoch.meanLoss, precisionAt20: result.precision(at: 20) * 100, mrrAt20: result.reciprocalRank(at: 20) * 100))
                context.logger.info("epoch done", metadata: [
                    "epoch": "\(epoch.epoch + 1)", "loss": "\(String(format: "%.4f", epoch.meanLoss))",
                    "validation_p20": "\(String(format: "%.2f", result.precision(at: 20) * 100))",
                    "validation_mrr20": "\(String(format: "%.2f", result.reciprocalRank(at: 20) * 100))", "best": "\(best)",
                ])
            } else {
                context.summary.epochs.append(RunReport.EpochRow(epoch: epoch.epoch + 1, loss: epoch.meanLoss, precisionAt20: .nan, mrrAt20: .nan))
            }
            let checkpoint = Array(Checkpoint(trainer).encoded())
            let completed = trainer.completedEpochs
            try context.connection.withTransaction { connection in
                try context.checkpoints.save(asOfDay: asOfDay, fingerprint: fingerprint, epoch: completed, checkpoint: checkpoint, runID: context.runID, on: connection)
                if best { try context.checkpoints.save(asOfDay: asOfDay, fingerprint: bestKey, epoch: completed, checkpoint: checkpoint, runID: context.runID, on: connection) }
            }
        }
        let trained = trainer.completedEpochs
        var kept = trained
        if let best = selection.bestModel, let bestEpoch = selection.bestEpoch {
            kept = bestEpoch
            if bestEpoch != trained { try trainer.rewind(to: best, completedEpochs: bestEpoch) }
            context.summary.notes.append(
                "Epoch \(bestEpoch) of \(trained) kept, chosen on validation (\(settings.validationWindow), \(validation.count) prefixes)"
                    + (selection.shouldStop ? "; stopped early after \(settings.patience) epoch(s) without progress." : "."))
        }
        var finished = false
        if let pass = settings.finishingPass, let before = selection.bestResult {
            finished = try finish(&trainer, with: pass, fit: fit, endTimes: Array(data.trainingEndTimes.prefix(fit.count)),
                                  validation: validation, before: before, epoch: kept, in: context)
        }
        return .trained(TrainedModel(
            trainer: trainer, parent: parent, fingerprint: fingerprint, maxEpochs: epochs, epochsTrained: trained, epochsKept: kept,
            finished: finished))
    }

    /// The finishing pass (`FinishingPass`): one more pass over the fit period's last days, kept
    /// only when validation reads it better than the chosen epoch (a fine-tune's epoch 0 is the
    /// champion). It starts from the same state on a rerun, so a night killed during it ends with
    /// the same model.
    private func finish(
        _ trainer: inout Trainer, with pass: FinishingPass, fit: [Session], endTimes: [Int64], validation: PrefixSet,
        before: EvaluationResult, epoch: Int, in context: RunContext
    ) throws -> Bool {
        var finishing = trainer
        let summary = try pass.run(&finishing, sessions: fit, endTimes: endTimes) { _ in !ShutdownSignal.isRequested }
        let after = Evaluator.evaluate(finishing.model, on: validation, threads: context.settings.threads)
        let better = EpochSelection.isBetter(after, than: before)
        if better { trainer = finishing }
        context.summary.notes.append(
            "Finishing pass: \(pass.describe(summary)): validation P@20 "
                + String(format: "%.2f, MRR@20 %.2f against %.2f, %.2f", 100 * after.precision(at: 20), 100 * after.reciprocalRank(at: 20),
                         100 * before.precision(at: 20), 100 * before.reciprocalRank(at: 20))
                + (better ? "; kept." : "; not better, epoch \(epoch) kept as it was."))
        context.logger.info("finishing pass done", metadata: [
            "sessions": "\(summary.sessions)", "kept": "\(better)",
            "validation_p20": "\(String(format: "%.2f", after.precision(at: 20) * 100))",
            "validation_mrr20": "\(String(format: "%.2f", after.reciprocalRank(at: 20) * 100))",
        ])
        return better
    }

    /// What determines the model: a rerun with the same fingerprint reuses it. The base is part
    /// of it: it is chosen from the date's inputs (see `BaseModel`), so a rerun finds the same one.
    static func fingerprint(_ data: PreparedData, epochs: Int, settings: NightlySettings) -> String {
        let parts: [String] = [
            settings.asOf.description, data.mode.rawValue, settings.configurationName, JSON.encode(settings.configuration),
            "\(epochs)", "\(settings.seed)", "\(settings.evaluationDays)", "\(settings.minItemClicks)", "\(settings.fineTuneDays)",
            "\(settings.finetuneRateScale)", "\(settings.finetuneDecayEpochs)", "\(data.split.itemCount)", "\(data.training.count)", "base \(data.base.map { String($0.version) } ?? "none")",
            "\(settings.validationWindow)", "\(settings.patience)",
            settings.finishingPass.map { "finish \($0.days) \($0.learningRate)" + ($0.inTimeOrder ? " day by day" : "") } ?? "no finish",
        ] + (settings.finetuneKeep == 1 ? [] : ["keep \(settings.finetuneKeep)"])
            + (SampledSoftmax.forCatalogue(itemCount: data.split.itemCount, threshold: settings.sampledSoftmaxAbove, negatives: settings.sampledNegatives)
            .map { ["sampled \($0.negatives)"] } ?? [])
        return String(ShardSpec.hash(parts.joined(separator: "|")), radix: 16)
    }
}

struct TrainedModel {
    var trainer: Trainer
    var parent: Int64?
    var fingerprint: String
    /// The cap (--epochs, or --finetune-epochs for a fine-tune).
    var maxEpochs: Int
    /// Epochs run before the cap or early stopping.
    var epochsTrained: Int
    /// The epoch chosen on validation; 0 when a fine-tune kept its base model unchanged.
    var epochsKept: Int
    /// The finishing pass was better on validation and is part of the model.
    var finished = false
}

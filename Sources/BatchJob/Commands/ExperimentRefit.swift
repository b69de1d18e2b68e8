import DANSeR
import Foundation

extension ExperimentCommand {
    /// `--refit`: the held-out validation sessions are the most recent of the training period,
    /// so the model chosen on them never trained on the days just before the test. A new model
    /// (same configuration and seed) trains on all training sessions for the epoch count chosen
    /// on validation; nothing is chosen here, and the test split is evaluated once, at the end.
    /// With --checkpoint, `<checkpoint>.refit` makes it resumable like the first run.
    func refitAndTest(
        _ configuration: ModelConfiguration, itemCount: Int, epochs: Int, on sessions: [Session], endTimes: [Int64],
        finishing: Bool, test: PrefixSet
    ) throws {
        let training = PrefixSet(sessions: sessions)
        print("refit: a new model trained on the training and validation sessions (\(training.count) prefixes) "
            + "for \(epochs) epoch(s), the count chosen on validation")
        let path = checkpoint.map { $0 + ".refit" }
        var trainer = try Trainer(configuration: configuration, itemCount: itemCount, seed: seed, threads: threads)
        if let path, !restart, let data = FileManager.default.contents(atPath: path) {
            let saved = try Checkpoint(decoding: data).makeTrainer(expecting: configuration, itemCount: itemCount, threads: threads)
            // A refit of an earlier choice that trained past this one's count cannot be reused.
            if saved.completedEpochs <= epochs, saved.seed == seed {
                trainer = saved
                print("refit resumed from \(path) after epoch \(trainer.completedEpochs)")
            }
        }
        trainer.sampling = SampledSoftmax.forCatalogue(
            itemCount: itemCount, threshold: sampledSoftmaxAbove, negatives: sampledNegatives)
        fflush(nil)
        while trainer.completedEpochs < epochs {
            let started = Date()
            let summary = try trainer.trainEpoch(on: training) { _ in true }
            if let path { try save(Checkpoint(trainer).encoded(), to: path) }
            let seconds = Date().timeIntervalSince(started)
            print(String(
                format: "refit epoch %d   %.1e  %7.4f   %10.0f prefixes/s  %7.1f s", summary.epoch + 1, summary.learningRate,
                summary.meanLoss, Double(summary.examples) / seconds, seconds))
            fflush(nil)
        }
        var ending = ""
        if finishing, let pass = finish.pass {
            let finished = try pass.run(&trainer, sessions: sessions, endTimes: endTimes)
            print("refit finish: \(pass.describe(finished)) in " + String(format: "%.1f s", finished.seconds))
            ending = " + the finishing pass"
        }
        let result = Evaluator.evaluate(trainer.model, on: test, batchSize: configuration.batchSize, threads: threads)
        print(String(
            format: "refit on training + validation, %d epoch(s)" + ending + ": test P@20 %.2f  MRR@20 %.2f  P@10 %.2f  MRR@10 %.2f  NDCG@20 %.2f",
            epochs, 100 * result.precision(at: 20), 100 * result.reciprocalRank(at: 20),
            100 * result.precision(at: 10), 100 * result.reciprocalRank(at: 10), 100 * result.ndcg(at: 20)))
        fflush(nil)
    }
}

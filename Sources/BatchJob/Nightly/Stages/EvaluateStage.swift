import DANSeR
import FeatureStore
import Foundation

/// Stage: the candidate, the base model and two baselines on the same held-out window (the last
/// evaluation days before as-of; never a click on or after it).
struct EvaluateStage: Stage {
    static let name = StageName.evaluate

    typealias Output = Evaluation

    func callAsFunction(_ input: (trained: TrainedModel, data: PreparedData), in context: RunContext) throws -> Evaluation {
        let (trained, data) = input
        let settings = context.settings
        let examples = PrefixSet(sessions: data.split.test)
        var evaluation = Evaluation()
        let candidate = Evaluator.evaluate(trained.trainer.model, on: examples, threads: settings.threads)
        evaluation.rows.append(.init(name: "candidate", candidate))
        var championResult: EvaluationResult?
        if let base = data.base {
            // New items get fresh rows, as a fine-tune would start from; ids never move.
            let model = try context.loadModel(base).growing(toItemCount: data.split.itemCount, seed: settings.seed)
            let result = Evaluator.evaluate(model, on: examples, threads: settings.threads)
            evaluation.rows.append(.init(name: "champion", result))
            championResult = result
            evaluation.champion = PromotionGate.Scores(precisionAt20: result.precision(at: 20) * 100, mrrAt20: result.reciprocalRank(at: 20) * 100)
        }
        evaluation.rows.append(.init(name: "popularity", PopularityBaseline(training: data.split.training, itemCount: data.split.itemCount).evaluate(on: examples)))
        evaluation.rows.append(.init(name: "session kNN", SessionKNN(training: data.split.training, itemCount: data.split.itemCount, sampleSize: settings.knnSampleSize).evaluate(on: examples)))
        for row in evaluation.rows {
            context.logger.info("evaluated", metadata: ["model": "\(row.name)", "p20": "\(String(format: "%.2f", row.precisionAt20))", "mrr20": "\(String(format: "%.2f", row.mrrAt20))"])
        }
        context.summary.comparison = evaluation.rows
        if let knn = evaluation.rows.first(where: { $0.name == "session kNN" }),
            let warning = ContestSettings.knnWarning(candidate: evaluation.rows[0], knn: knn, margin: settings.contest.knnMargin, contest: !settings.contest.isEmpty) {
            evaluation.knnWarning = warning
            context.summary.knnWarning = warning
            context.summary.notes.append("WARNING: " + warning + ".")
            context.logger.warning("candidate trails session kNN", metadata: ["detail": "\(warning)"])
        }
        evaluation.candidateResult = candidate
        evaluation.championResult = championResult
        return evaluation
    }
}

/// Scores of every contender on the evaluation window, in percent. "champion" is the date's base
/// model (the champion on an ordinary night).
struct Evaluation: StageResult {
    var rows: [RunReport.Comparison] = []
    var champion: PromotionGate.Scores?
    /// Set when the candidate trails session kNN by more than `--knn-margin` MRR@20 points.
    var knnWarning: String?
    /// The candidate's and the champion's full results, which the contest reuses.
    var candidateResult: EvaluationResult?
    var championResult: EvaluationResult?

    var json: [String: Any] {
        var object: [String: Any] = [:]
        for row in rows {
            let key = row.name.replacingOccurrences(of: " ", with: "_")
            object[key] = ["p@20": row.precisionAt20, "mrr@20": row.mrrAt20, "p@10": row.precisionAt10, "mrr@10": row.mrrAt10]
        }
        return object
    }

    var ledgerRecord: [String: Any] {
        var record = json
        if let knnWarning { record["knn_warning"] = knnWarning }
        return record
    }
}

extension RunReport.Comparison {
    init(name: String, _ result: EvaluationResult) {
        self.init(
            name: name, precisionAt20: result.precision(at: 20) * 100, mrrAt20: result.reciprocalRank(at: 20) * 100,
            precisionAt10: result.precision(at: 10) * 100, mrrAt10: result.reciprocalRank(at: 10) * 100)
    }
}

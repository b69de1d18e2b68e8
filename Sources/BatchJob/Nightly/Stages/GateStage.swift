import FeatureStore
import Foundation

/// Stage: whether the candidate may serve. It passes unless it trails the base model by more than
/// the tolerance (`PromotionGate`). A passing candidate becomes champion unless its date is older
/// than the champion's: a backfill never replaces the model that serves the newest date.
struct GateStage: Stage {
    static let name = StageName.gate

    struct Output: StageResult {
        var passed: Bool
        var promote: Bool
        var reason: String
        var ledgerRecord: [String: Any] { ["passed": passed, "promote": promote, "reason": reason] }
    }

    func callAsFunction(_ evaluation: Evaluation, in context: RunContext) throws -> Output {
        let candidate = evaluation.rows[0]
        let verdict = PromotionGate(tolerance: context.settings.tolerance).decide(
            candidate: .init(precisionAt20: candidate.precisionAt20, mrrAt20: candidate.mrrAt20), champion: evaluation.champion)
        guard verdict.promote else { return Output(passed: false, promote: false, reason: verdict.reason) }
        if let champion = try context.registry.champion(on: context.connection), Int64(champion.asOfDay) > context.settings.asOf.day {
            let reason = verdict.reason + "; kept as a candidate, not promoted: the champion (model \(champion.version)) serves a later date (\(LogicalDate(day: Int64(champion.asOfDay))))"
            return Output(passed: true, promote: false, reason: reason)
        }
        return Output(passed: true, promote: true, reason: verdict.reason)
    }
}

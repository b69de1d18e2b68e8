/// Whether a candidate may replace the champion: not worse than it by more than `tolerance`
/// percentage points on P@20 or on MRR@20, both measured on the same evaluation window.
struct PromotionGate: Sendable {
    /// Percentage points the candidate may trail the champion by (default 0.5).
    var tolerance = 0.5

    struct Scores: Sendable {
        /// Percent, as the ledger and reports show them.
        var precisionAt20: Double
        var mrrAt20: Double
    }

    func decide(candidate: Scores, champion: Scores?) -> (promote: Bool, reason: String) {
        guard candidate.precisionAt20.isFinite, candidate.mrrAt20.isFinite else {
            return (false, "candidate metrics are not finite")
        }
        guard let champion else { return (true, "no champion yet") }
        let dropP = champion.precisionAt20 - candidate.precisionAt20
        let dropMRR = champion.mrrAt20 - candidate.mrrAt20
        if dropP > tolerance {
            return (false, String(format: "P@20 %.2f is %.2f points below the champion's %.2f (tolerance %.2f)", candidate.precisionAt20, dropP, champion.precisionAt20, tolerance))
        }
        if dropMRR > tolerance {
            return (false, String(format: "MRR@20 %.2f is %.2f points below the champion's %.2f (tolerance %.2f)", candidate.mrrAt20, dropMRR, champion.mrrAt20, tolerance))
        }
        return (true, String(format: "P@20 %.2f vs champion %.2f, MRR@20 %.2f vs %.2f", candidate.precisionAt20, champion.precisionAt20, candidate.mrrAt20, champion.mrrAt20))
    }
}

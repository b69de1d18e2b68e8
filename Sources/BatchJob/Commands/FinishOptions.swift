import ArgumentParser
import DANSeR

/// `experiment`'s finishing pass (`FinishingPass`): after the chosen epoch, one more pass over
/// the sessions of the last N days only, kept (and repeated at the end of the refit) only when it
/// is better on validation. On by default, as in the nightly retrain; `--finish-days 0` turns it off.
struct FinishOptions: ParsableArguments {
    @Option(
        name: .customLong("finish-days"),
        help: "After the chosen epoch, one more pass over the sessions of the last N days, read again on validation; the refit ends the same way if it was better there (0: off).")
    var days = FinishingPass.defaultDays

    @Option(
        name: .customLong("finish-learning-rate"),
        help: "Learning rate of the finishing pass.")
    var learningRate = FinishingPass.defaultLearningRate

    @Option(
        name: .customLong("finish-then-learning-rate"),
        help: "A further pass over the same sessions at this rate (repeatable; none by default).")
    var furtherLearningRates: [Float] = []

    @Flag(
        name: .customLong("finish-recount-popularity"),
        help: "Recount item popularity (the behaviour statistics) on the pass's sessions before it.")
    var recountsPopularity = false

    @Option(
        name: .customLong("finish-dropout"),
        help: "Dropout on H0 during the finishing pass (default: the configuration's).")
    var dropout: Float?

    @Option(
        name: .customLong("finish-order"),
        help: "Order of the finishing pass: day-by-day (oldest day first, shuffled within each day, ending on the most recent) or shuffled.")
    var order = FinishOrder.dayByDay

    /// The pass asked for; nil when off.
    var pass: FinishingPass? {
        days > 0 ? FinishingPass(
            days: days, learningRate: learningRate, furtherLearningRates: furtherLearningRates,
            recountsPopularity: recountsPopularity, dropout: dropout, inTimeOrder: order.inTimeOrder) : nil
    }

    func validate() throws {
        guard (0...36_500).contains(days) else {
            throw ValidationError("--finish-days must be 0 (off) or a number of days, e.g. 30 (got \(days)).")
        }
        guard learningRate > 0, learningRate.isFinite, learningRate <= 1 else {
            throw ValidationError("--finish-learning-rate must be above 0 and at most 1, e.g. 5e-4 (got \(learningRate)).")
        }
        if let dropout, !(dropout >= 0 && dropout < 1) {
            throw ValidationError("--finish-dropout must be at least 0 and below 1, e.g. 0 (got \(dropout)).")
        }
        for rate in furtherLearningRates where !(rate > 0 && rate <= 1) {
            throw ValidationError("--finish-then-learning-rate must be above 0 and at most 1, e.g. 1e-4 (got \(rate)).")
        }
    }
}

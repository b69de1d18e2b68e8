import ArgumentParser
import DANSeR

/// `experiment`'s finishing pass: after the chosen epochs, one more pass over the sessions of the
/// last few days only. The test week follows the training period, and the refit's gain over the
/// validation-chosen model comes mostly from its ten most recent days, so ending on them makes
/// recent sessions weigh more than their share of the data.
struct FinishOptions: ParsableArguments {
    @Option(
        name: .customLong("finish-days"),
        help: "After the chosen epoch, one more pass over the sessions of the last N days of the fit period, read again on validation; the refit ends the same way if it helped there. Off by default.")
    var days: Int?

    @Option(
        name: .customLong("finish-learning-rate"),
        help: "Learning rate of the finishing pass (default: the schedule's rate for the next epoch).")
    var learningRate: Float?

    func validate() throws {
        if let days, days < 1 { throw ValidationError("--finish-days must be 1 or more, e.g. 7 (got \(days)).") }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
            throw ValidationError("--finish-learning-rate must be above 0, e.g. 1e-4 (got \(learningRate)).")
        }
        if days == nil, learningRate != nil {
            throw ValidationError("--finish-learning-rate needs --finish-days.")
        }
    }
}

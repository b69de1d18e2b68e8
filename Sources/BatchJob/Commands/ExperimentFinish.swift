import DANSeR
import Foundation

extension ExperimentCommand {
    /// What a finishing pass did, for the output.
    struct FinishedPass {
        var description: String
        var seconds: Double
    }

    /// One pass of `trainer` over the sessions that end within the last `days` days of
    /// `sessions` (in time order, `endTimes` parallel), at --finish-learning-rate or the
    /// schedule's next rate (the popularity statistics stay those of the first epoch).
    func finishPass(_ trainer: inout Trainer, days: Int, sessions: [Session], endTimes: [Int64]) throws -> FinishedPass {
        // Sessions ending within `days` whole days of the last click, as `--validation-days` counts them.
        let from = (endTimes.max() ?? 0) - Int64(days) * 86_400_000_000
        let recent = Array(sessions[(endTimes.firstIndex { $0 > from } ?? sessions.count)...])
        let examples = PrefixSet(sessions: recent)
        let rate = finish.learningRate ?? trainer.learningRate(epoch: trainer.completedEpochs)
        let started = Date()
        _ = try trainer.trainEpoch(on: examples, learningRate: rate)
        return FinishedPass(
            description: "one pass over the last \(days) day(s) (\(recent.count) sessions, \(examples.count) prefixes) at lr "
                + String(format: "%.1e", rate),
            seconds: Date().timeIntervalSince(started))
    }
}

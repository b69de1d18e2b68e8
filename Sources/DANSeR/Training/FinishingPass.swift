import Foundation

/// The finishing pass: after the epoch chosen on validation, one more pass over the sessions of
/// the last few days only. The days after training (the test week, tomorrow's traffic) resemble
/// the most recent ones more than the period's average, and ending on them makes them weigh more
/// than their share. Its caller reads validation again and keeps the pass only if it is better.
public struct FinishingPass: Sendable, Hashable {
    /// Sessions ending within this many whole days of the last click are passed over again.
    public var days: Int
    /// The pass's learning rate (the preset's 1e-3 would undo the decayed epochs; see
    /// docs/EXPERIMENTS.md, "Ending on recent sessions").
    public var learningRate: Float
    /// Further passes over the same sessions, at these rates (none by default).
    public var furtherLearningRates: [Float]

    public static let defaultDays = 30
    public static let defaultLearningRate: Float = 3e-4

    public init(days: Int = Self.defaultDays, learningRate: Float = Self.defaultLearningRate, furtherLearningRates: [Float] = []) {
        self.days = days
        self.learningRate = learningRate
        self.furtherLearningRates = furtherLearningRates
    }

    /// What one pass did.
    public struct Summary: Sendable {
        public let sessions: Int
        public let prefixes: Int
        public let meanLoss: Double
        public let seconds: Double
    }

    /// The sessions of `sessions` (in time order, `endTimes` parallel, microseconds) that end
    /// within `days` whole days of the last one: the rule `ValidationWindow.days` counts by.
    public func recent(_ sessions: [Session], endTimes: [Int64]) -> [Session] {
        precondition(sessions.count == endTimes.count, "one end time per session")
        let from = (endTimes.max() ?? 0) - Int64(days) * 86_400_000_000
        return Array(sessions[(endTimes.firstIndex { $0 > from } ?? sessions.count)...])
    }

    /// Trains `trainer` over the recent sessions of `sessions`, a pass at each rate.
    public func run(
        _ trainer: inout Trainer, sessions: [Session], endTimes: [Int64], progress: (Trainer.Progress) -> Bool = { _ in true }
    ) throws(DANSeRError) -> Summary {
        let examples = PrefixSet(sessions: recent(sessions, endTimes: endTimes))
        let started = Date()
        var loss = 0.0
        for rate in [learningRate] + furtherLearningRates {
            loss = try trainer.trainEpoch(on: examples, learningRate: rate, progress: progress).meanLoss
        }
        return Summary(
            sessions: examples.sessions.count, prefixes: examples.count, meanLoss: loss, seconds: Date().timeIntervalSince(started))
    }

    /// "one pass over the last 30 day(s) (38643 sessions, 152861 prefixes) at lr 3.0e-04".
    public func describe(_ summary: Summary) -> String {
        let rates = ([learningRate] + furtherLearningRates).map { String(format: "%.1e", $0) }
        return (rates.count == 1 ? "one pass" : "\(rates.count) passes")
            + " over the last \(days) day(s) (\(summary.sessions) sessions, \(summary.prefixes) prefixes) at lr "
            + rates.joined(separator: ", then ")
    }
}

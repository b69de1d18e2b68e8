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
    /// Recount the behaviour statistics (item popularity) on the recent sessions before the
    /// pass, so the popularity term reads what is popular now (off by default).
    public var recountsPopularity: Bool
    /// Dropout on H0 during the pass instead of the configuration's (nil: the configuration's).
    public var dropout: Float?
    /// Pass over the days in time order (shuffled within each day), so the pass ends on the most
    /// recent day (the default); off: one shuffle of the whole window.
    public var inTimeOrder: Bool

    public static let defaultDays = 30
    public static let defaultLearningRate: Float = 5e-4

    public init(
        days: Int = Self.defaultDays, learningRate: Float = Self.defaultLearningRate, furtherLearningRates: [Float] = [],
        recountsPopularity: Bool = false, dropout: Float? = nil, inTimeOrder: Bool = true
    ) {
        self.days = days
        self.learningRate = learningRate
        self.furtherLearningRates = furtherLearningRates
        self.recountsPopularity = recountsPopularity
        self.dropout = dropout
        self.inTimeOrder = inTimeOrder
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
        return Array(sessions[firstRecent(endTimes)...])
    }

    /// The index of the first session `recent` keeps.
    private func firstRecent(_ endTimes: [Int64]) -> Int {
        let from = (endTimes.max() ?? 0) - Int64(days) * 86_400_000_000
        return endTimes.firstIndex { $0 > from } ?? endTimes.count
    }

    /// The examples' shuffle (`shuffled`, a permutation) regrouped by the day their session ends,
    /// oldest day first; `endTimes` are those of `examples.sessions`.
    static func dayByDay(_ shuffled: [Int], of examples: PrefixSet, endTimes: [Int64]) -> [Int] {
        let last = endTimes.max() ?? 0
        let daysBack = shuffled.map { (last - endTimes[Int(examples.sessionIndex[$0])]) / 86_400_000_000 }
        return shuffled.indices.sorted { (daysBack[$1], $0) < (daysBack[$0], $1) }.map { shuffled[$0] }
    }

    /// Trains `trainer` over the recent sessions of `sessions`, a pass at each rate.
    public func run(
        _ trainer: inout Trainer, sessions: [Session], endTimes: [Int64], progress: (Trainer.Progress) -> Bool = { _ in true }
    ) throws(DANSeRError) -> Summary {
        precondition(sessions.count == endTimes.count, "one end time per session")
        let first = firstRecent(endTimes)
        let examples = PrefixSet(sessions: Array(sessions[first...]))
        let passedEnds = Array(endTimes[first...])
        let started = Date()
        if recountsPopularity {
            try trainer.model.setBehaviourStatistics(BehaviourStatistics(training: examples.sessions, itemCount: trainer.model.itemCount))
        }
        var loss = 0.0
        let kept = trainer.dropoutOverride
        trainer.dropoutOverride = dropout ?? kept
        defer { trainer.dropoutOverride = kept }
        for rate in [learningRate] + furtherLearningRates {
            let order = inTimeOrder
                ? Self.dayByDay(trainer.order(epoch: trainer.completedEpochs, count: examples.count), of: examples, endTimes: passedEnds)
                : nil
            loss = try trainer.trainEpoch(on: examples, learningRate: rate, order: order, progress: progress).meanLoss
        }
        return Summary(
            sessions: examples.sessions.count, prefixes: examples.count, meanLoss: loss, seconds: Date().timeIntervalSince(started))
    }

    /// "one pass over the last 30 day(s) (38643 sessions, 152861 prefixes) at lr 5.0e-04, day by day".
    public func describe(_ summary: Summary) -> String {
        let rates = ([learningRate] + furtherLearningRates).map { String(format: "%.1e", $0) }
        return (rates.count == 1 ? "one pass" : "\(rates.count) passes")
            + " over the last \(days) day(s) (\(summary.sessions) sessions, \(summary.prefixes) prefixes) at lr "
            + rates.joined(separator: ", then ") + (recountsPopularity ? ", popularity recounted on them" : "")
            + (dropout.map { ", dropout \($0)" } ?? "") + (inTimeOrder ? ", day by day" : ", shuffled")
    }
}

internal import Foundation

/// The user-behaviour statistics of MODEL.md section 5, computed from the training clicks and
/// stored with each model version: per-item click counts and log priors, and the mean and
/// spread of the session-mean log prior, plus the learned scalars that weigh them.
public struct BehaviourStatistics: Sendable, Equatable {
    /// c_j for items 1...N (index 0 is padding and stays 0).
    public var clickCounts: [Int64]
    /// pi_j = log((c_j + 1) / (C + N)), index 0 unused.
    public var logPriors: [Float]
    /// C: training clicks.
    public var totalClicks: Int64
    /// mu and sd of the session-mean log prior over training sessions.
    public var sessionPriorMean: Double
    public var sessionPriorSD: Double
    /// Learned scalars by name (b0, b1, rho); zero until a model that uses them is trained.
    public var learnedScalars: [String: Double]

    public var itemCount: Int { max(0, clickCounts.count - 1) }

    public init(
        clickCounts: [Int64], logPriors: [Float], totalClicks: Int64, sessionPriorMean: Double, sessionPriorSD: Double,
        learnedScalars: [String: Double] = [:]
    ) {
        self.clickCounts = clickCounts
        self.logPriors = logPriors
        self.totalClicks = totalClicks
        self.sessionPriorMean = sessionPriorMean
        self.sessionPriorSD = sessionPriorSD
        self.learnedScalars = learnedScalars
    }

    /// Computes the statistics of `training` sessions over items 1...itemCount.
    public init(training: [Session], itemCount: Int) {
        var counts = [Int64](repeating: 0, count: itemCount + 1)
        var total: Int64 = 0
        for session in training {
            for item in session where item > 0 && Int(item) <= itemCount {
                counts[Int(item)] += 1
                total += 1
            }
        }
        let denominator = Double(total) + Double(itemCount)
        var priors = [Float](repeating: 0, count: itemCount + 1)
        for item in 1..<max(1, itemCount + 1) { priors[item] = Float(log((Double(counts[item]) + 1) / denominator)) }
        var sum = 0.0
        var sumSquares = 0.0
        var sessions = 0.0
        for session in training where !session.isEmpty {
            let mean = session.reduce(0.0) { $0 + Double(priors[Int($1)]) } / Double(session.count)
            sum += mean
            sumSquares += mean * mean
            sessions += 1
        }
        let mean = sessions > 0 ? sum / sessions : 0
        let variance = sessions > 1 ? max(0, (sumSquares - sessions * mean * mean) / (sessions - 1)) : 0
        self.init(
            clickCounts: counts, logPriors: priors, totalClicks: total, sessionPriorMean: mean,
            sessionPriorSD: max(variance.squareRoot(), 1e-6))
    }

    /// tau_s: how popular-leaning a session is, in standard deviations from the mean session.
    public func popularityTaste(of session: some Collection<Int32>) -> Double {
        let known = session.filter { $0 > 0 && Int($0) <= itemCount }
        guard !known.isEmpty else { return 0 }
        let mean = known.reduce(0.0) { $0 + Double(logPriors[Int($1)]) } / Double(known.count)
        return (mean - sessionPriorMean) / sessionPriorSD
    }
}

internal import Foundation

/// Exponential backoff with full jitter for transient failures
/// (see `FeatureStoreError.isTransient`). Data errors are never retried.
public struct RetryPolicy: Sendable {
    /// Total tries including the first. Default 5.
    public var maxAttempts: Int
    /// Upper bound of the first wait, in seconds. Default 0.2.
    public var initialDelay: Double
    /// Longest single wait, in seconds. Default 5.
    public var maxDelay: Double

    /// Wait a uniform random share of the ceiling (true, the default) or exactly the ceiling.
    public var jitter: Bool

    public init(maxAttempts: Int = 5, initialDelay: Double = 0.2, maxDelay: Double = 5, jitter: Bool = true) {
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.jitter = jitter
    }

    public static let standard = RetryPolicy()
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The wait before retry number `attempt` (1-based): min(max, initial * 2^(attempt-1)),
    /// or a uniform random share of it with jitter.
    public func delay(beforeRetry attempt: Int) -> Double {
        let ceiling = max(0, min(maxDelay, initialDelay * pow(2, Double(max(0, attempt - 1)))))
        return jitter ? Double.random(in: 0...ceiling) : ceiling
    }

    /// Sum of every wait without jitter: how long the policy keeps trying, at most.
    public var longestTotalWait: Double {
        (1..<max(1, maxAttempts)).reduce(0) { $0 + max(0, min(maxDelay, initialDelay * pow(2, Double($1 - 1)))) }
    }
}

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

    public init(maxAttempts: Int = 5, initialDelay: Double = 0.2, maxDelay: Double = 5) {
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    public static let standard = RetryPolicy()
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The wait before retry number `attempt` (1-based): uniform in [0, min(max, initial * 2^(attempt-1))].
    public func delay(beforeRetry attempt: Int) -> Double {
        let ceiling = min(maxDelay, initialDelay * pow(2, Double(max(0, attempt - 1))))
        return Double.random(in: 0...max(ceiling, 0))
    }
}

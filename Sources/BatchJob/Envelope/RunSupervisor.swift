import FeatureStore
import Foundation
import Logging

/// Survives transient failures of a whole run: a lost connection or a server restart in any
/// stage ends the attempt; the supervisor waits (bounded exponential backoff, logged at warning),
/// and runs the attempt again on a new connection. The attempt re-enters from the last durable
/// point: every stage is idempotent or resumes from what is in the database (training
/// checkpoints, a model already published for the date, staged rows dropped and rebuilt), and
/// the ledger row stays the same run with one more attempt.
struct RunSupervisor {
    let policy: RetryPolicy
    let envelope: RunEnvelope
    let logger: Logger

    /// The run's policy: `--retry-attempts` [8], `--retry-delay` [5 s] doubling up to
    /// `--retry-max-delay` [60 s], no jitter: waits of 5, 10, 20, 40, 60, 60, 60 s, 4 min 15 s in all.
    static let defaultPolicy = RetryPolicy(maxAttempts: 8, initialDelay: 5, maxDelay: 60, jitter: false)

    /// Runs `attempt` (given its 1-based number) until it returns, fails for good, or the
    /// attempts are used up (then the last failure is thrown).
    func run<T>(_ attempt: (Int) throws -> T) throws -> T {
        var number = 1
        while true {
            do {
                return try attempt(number)
            } catch where Self.isTransient(error) && number < policy.maxAttempts && !ShutdownSignal.isRequested {
                let wait = policy.delay(beforeRetry: number)
                let cause = "\(error)".replacingOccurrences(of: "\n", with: " ")
                envelope.noteFailure("attempt \(number): \(cause)")
                logger.warning("transient database failure; the run will be retried from its last durable point", metadata: [
                    "attempt": "\(number)", "of": "\(policy.maxAttempts)", "wait_s": "\(String(format: "%.1f", wait))",
                    "stage": "\(RunStage.current ?? "start")", "error": "\(cause)",
                ])
                try Self.sleep(wait)
                number += 1
            }
        }
    }

    /// Waits, waking for SIGTERM/SIGINT (then throws `interrupted`).
    static func sleep(_ seconds: Double) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            try ShutdownSignal.check("a wait before retrying")
            Thread.sleep(forTimeInterval: min(0.2, max(0, deadline.timeIntervalSinceNow)))
        }
    }

    /// A lost connection, a server that is down, restarting or shutting down, a serialization
    /// failure or deadlock, too many connections; also a statement or COPY that failed without
    /// an answer from the server (its link broke). Data, permission and configuration errors
    /// never are.
    static func isTransient(_ error: any Error) -> Bool {
        guard let error = error as? FeatureStoreError else { return false }
        if error.isTransient { return true }
        return error.sqlState == nil && (error.code == .copyFailed || error.code == .queryFailed)
            && ["server closed", "connection", "terminat", "no connection", "could not receive", "could not send", "SSL SYSCALL"]
                .contains { error.message.contains($0) }
    }
}

extension DatabaseOptions {
    /// `--retry-*` options, else `DANSER_RETRY_ATTEMPTS`, `DANSER_RETRY_DELAY_SECONDS`,
    /// `DANSER_RETRY_MAX_DELAY_SECONDS`, else the defaults of `RunSupervisor.defaultPolicy`.
    var runRetryPolicy: RetryPolicy {
        var policy = RunSupervisor.defaultPolicy
        func number(_ option: Double?, _ variable: String) -> Double? {
            option ?? environment[variable].flatMap(Double.init)
        }
        if let attempts = retryAttempts ?? environment["DANSER_RETRY_ATTEMPTS"].flatMap(Int.init) { policy.maxAttempts = max(1, attempts) }
        if let delay = number(retryDelay, "DANSER_RETRY_DELAY_SECONDS") { policy.initialDelay = max(0, delay) }
        if let delay = number(retryMaxDelay, "DANSER_RETRY_MAX_DELAY_SECONDS") { policy.maxDelay = max(0, delay) }
        return policy
    }
}

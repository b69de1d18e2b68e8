public import Logging
internal import Foundation

/// A reconnecting handle on one database: hands out a live connection and reruns work
/// after transient failures, reconnecting as needed.
public final class Database {
    public let configuration: ConnectionConfiguration
    public let retryPolicy: RetryPolicy
    let logger: Logger
    private var current: Connection?

    public init(_ configuration: ConnectionConfiguration, retryPolicy: RetryPolicy = .standard, logger: Logger = Logger(label: "danser.db")) {
        self.configuration = configuration
        self.retryPolicy = retryPolicy
        self.logger = logger
    }

    /// The live connection, opened on first use (with retries on transient connect failures).
    public func connection() throws -> Connection {
        try withRetry { $0 }
    }

    /// Runs `body` on a live connection. On a transient failure (lost connection, class 08,
    /// serialization failure, deadlock, too many connections, admin shutdown) it waits with
    /// jittered exponential backoff, reconnects if needed and runs `body` again, so `body`
    /// must be safe to repeat: one whole transaction, or a read.
    public func withRetry<T>(_ body: (Connection) throws -> T) throws -> T {
        var attempt = 1
        while true {
            do {
                if current == nil || current?.isAlive == false {
                    current = nil
                    current = try Connection(configuration, logger: logger)
                }
                return try body(current!)
            } catch let error as FeatureStoreError where error.isTransient && attempt < retryPolicy.maxAttempts {
                if current?.isAlive == false || error.code == .connectionLost { current = nil }
                let wait = retryPolicy.delay(beforeRetry: attempt)
                // A warning, not info: an operator's alerting sees a flaky server before it fails a run.
                logger.warning(
                    "transient database failure, retrying",
                    metadata: [
                        "attempt": "\(attempt)", "wait_s": "\(String(format: "%.2f", wait))",
                        "sqlstate": "\(error.sqlState ?? "-")", "error": "\(error.message)",
                    ])
                Thread.sleep(forTimeInterval: wait)
                attempt += 1
            }
        }
    }

    /// `withRetry` around a transaction: the whole transaction is rerun on a transient failure.
    @discardableResult
    public func withTransaction<T>(_ body: (Connection) throws -> T) throws -> T {
        try withRetry { connection in try connection.withTransaction(body) }
    }

    /// Closes the connection (a later call reopens one).
    public func close() { current = nil }
}

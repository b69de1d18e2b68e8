import FeatureStore
import Foundation
import Logging

/// A short command that changes the job's state (prune, models promote/rollback) run in the
/// envelope: under the exclusive job lease, with its own ledger row closed however it ends,
/// and retried through transient failures like a night.
enum EnvelopedCommand {
    /// `connect` opens a connection per attempt; `body` runs under the lease with the command's
    /// ledger row and must be safe to repeat (one transaction). `busy` completes the message when
    /// the lease is held.
    static func run<T>(
        command: String, purpose: String, busy: String, database: DatabaseOptions, logger: Logger,
        connect: () throws -> Connection, _ body: (Connection, Int64) throws -> T
    ) throws -> T {
        let envelope = RunEnvelope(logger: logger)
        var connection: Connection?
        defer { envelope.end(on: connection) }
        return try RunSupervisor(policy: database.runRetryPolicy, envelope: envelope, logger: logger).run { _ in
            envelope.connect(try database.connectionConfiguration(logger: logger))
            connection = nil
            let attempt = try connect()
            connection = attempt
            if let holders = try envelope.acquireLease(JobLease.Claim(.exclusive, purpose: purpose), on: attempt) {
                let reason = RunEnvelope.describe(holders)
                try envelope.recordSkipped(command: command, asOfDay: nil, reason: reason, on: attempt)
                throw JobError(.lockHeld, "\(reason); \(busy)")
            }
            let runID = try envelope.openRun(command: command, asOfDay: nil, on: attempt)
            RunStage.enter(command)
            let started = Date()
            func close(_ status: RunStatus, _ error: String?) throws {
                try RunLedger().finish(
                    runID: runID, status: status, modelVersion: nil, rowCountsJSON: "{}",
                    timingsJSON: "{\"total_s\": \(String(format: "%.3f", Date().timeIntervalSince(started)))}", metricsJSON: "{}",
                    error: error, stage: command, on: attempt)
            }
            do {
                let value = try body(attempt, runID)
                try close(.succeeded, nil)
                return value
            } catch {
                let interrupted = (error as? JobError)?.code == .interrupted
                try? close(interrupted ? .interrupted : .failed, "\(error)".replacingOccurrences(of: "\n", with: " "))
                throw error
            }
        }
    }
}
